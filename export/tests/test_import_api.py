"""POST /v1/import: authentication, parameters, limits, status codes, matching and groups."""
import uuid
from datetime import datetime, timezone

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from export.tests.importing import IMPORT, calendar, committed_meanwhile, interop, upload
from slots.models import Slot, SlotGroup
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc


def event(uid: str = "event-1@example.com", title: str = "Kick-off", start: str = "20261207T090000Z") -> str:
    return f"UID:{uid}\nSUMMARY:{title}\nDTSTART:{start}\nDTEND:20261231T000000Z"


def counts(response) -> tuple[int, int, int]:
    body = response.json()
    return body["created"], body["updated"], body["unchanged"]


# The request -------------------------------------------------------------------------------------


def test_an_import_answers_the_counts_and_warnings(api):
    response = upload(api, calendar(event()))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer.pop("recurrence_window")["max_occurrences_per_series"] == 1500
    assert answer == {"created": 1, "updated": 0, "unchanged": 0, "removed": 0, "warnings": [], "series": []}


def test_without_a_token_it_is_401(db):
    response = upload(APIClient(), calendar(event()))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert not Slot.objects.exists()


def test_the_legacy_clients_accept_header_still_gets_json(api):
    response = upload(api, calendar(event()), HTTP_ACCEPT="text/plain")

    assert response.status_code == 200
    assert response.json()["created"] == 1


def test_a_missing_file_is_400(api):
    response = api.post(IMPORT, {"group": str(uuid.uuid4())}, format="multipart")

    assert response.status_code == 400
    assert response.json() == {"file": ["No file was submitted."], "request_id": response["X-Request-Id"]}


def test_a_json_body_is_415(api):
    response = api.post(IMPORT, {"file": "BEGIN:VCALENDAR"}, format="json")

    assert response.status_code == 415


def test_get_is_405(api):
    assert api.get(IMPORT).status_code == 405


# Limits ------------------------------------------------------------------------------------------


@override_settings(IMPORT_MAX_BYTES=100)
def test_a_file_over_the_size_limit_is_413_and_writes_nothing(api):
    data = calendar(event())
    assert len(data) > 100

    response = upload(api, data)

    assert response.status_code == 413
    assert response.json() == {"detail": "The file is larger than 100 bytes, the most an import takes.",
                               "request_id": response["X-Request-Id"]}
    assert not Slot.objects.exists()


@override_settings(IMPORT_MAX_CSV_JSON_BYTES=100)
def test_a_csv_or_json_file_over_their_own_limit_is_413_while_an_icalendar_file_as_large_is_read(api):
    """CSV and JSON are read whole, an iCalendar file a line at a time: the first keep a limit of their own."""
    rows = "Subject,Start Date\r\n" + "".join(f"Meeting {n},12/07/2026\r\n" for n in range(10))
    backup = '{"format": "timeslot-backup", "version": 1, "slots": [], "padding": "' + "x" * 100 + '"}'
    ical = calendar(event())
    assert min(len(rows), len(backup), len(ical)) > 100

    answers = [upload(api, data) for data in (rows, backup)]

    assert [answer.status_code for answer in answers] == [413, 413]
    assert answers[0].json() == {
        "detail": "The file is larger than 100 bytes, the most an import takes of a CSV or JSON file.",
        "request_id": answers[0]["X-Request-Id"],
    }
    assert not Slot.objects.exists()
    assert counts(upload(api, ical)) == (1, 0, 0)


@override_settings(IMPORT_MAX_BYTES=100)
def test_a_body_announced_too_large_is_413_before_it_is_read(api):
    # Not even multipart: reading it would be a 400; the announced length alone refuses it.
    response = api.generic(
        "POST", IMPORT, b"not multipart at all", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10 * 1024 * 1024),
    )

    assert response.status_code == 413


@override_settings(IMPORT_MAX_BYTES=100)
def test_a_file_of_exactly_the_size_limit_is_read(api):
    response = upload(api, "x" * 100)

    # Read, and refused for its content, not its size.
    assert response.status_code == 422


@override_settings(IMPORT_MAX_RECORDS=2)
def test_more_records_than_the_limit_is_422_and_writes_nothing(api):
    response = upload(api, calendar(*(event(uid=f"e{n}") for n in range(3))))

    assert response.status_code == 422
    assert response.json() == {"problems": [
        {"where": "file", "problem": "The file holds more than 2 records, the most one import takes."}
    ], "request_id": response["X-Request-Id"]}
    assert not Slot.objects.exists()


@override_settings(IMPORT_MAX_RECORDS=2)
def test_records_up_to_the_limit_are_imported(api):
    assert counts(upload(api, calendar(event(uid="a"), event(uid="b")))) == (2, 0, 0)


def test_a_long_list_of_problems_is_cut_short_with_a_count(api):
    response = upload(api, calendar(*("UID:x{n}\nDTSTART:broken".replace("{n}", str(n)) for n in range(150))))

    problems = response.json()["problems"]
    assert len(problems) == 100
    assert problems[-1] == {"where": "file", "problem": "... and 51 more."}


# Format detection --------------------------------------------------------------------------------


def test_the_format_is_read_from_the_content_not_the_name(api, user):
    response = upload(api, interop("example.ics"), name="holidays.csv")

    assert counts(response) == (3, 0, 0)


def test_a_byte_order_mark_and_blank_lines_before_the_calendar_are_skipped(api):
    response = upload(api, "\ufeff\r\n\r\n" + calendar(event()))

    assert counts(response) == (1, 0, 0)


def test_an_unknown_format_is_422(api):
    response = upload(api, b"Hello, world\n", name="calendar.ics")

    assert response.status_code == 422
    assert response.json()["problems"][0]["problem"].startswith("Unknown format")


def test_a_file_that_is_not_utf8_is_422_with_the_line(api):
    response = upload(api, calendar(event()).encode().replace(b"Kick-off", b"Caf\xe9"))

    assert response.status_code == 422
    # Line 6 is the SUMMARY.
    assert response.json()["problems"] == [
        {"where": "line 6", "problem": "The file is not UTF-8 text; save it as UTF-8."}
    ]


# Parameters --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["not-a-uuid", "12"])
def test_a_malformed_group_is_422_naming_it(api, value):
    response = upload(api, calendar(event()), group=value)

    assert response.status_code == 422
    assert response.json() == {
        "problems": [{"where": "group", "problem": "Must be a valid UUID."}], "request_id": response["X-Request-Id"]
    }


def test_an_unknown_time_zone_is_422_naming_it(api):
    response = upload(api, calendar(event()), time_zone="Mars/Olympus_Mons")

    assert response.status_code == 422
    assert response.json() == {
        "problems": [{"where": "time_zone", "problem": "'Mars/Olympus_Mons' is not an IANA time zone."}],
        "request_id": response["X-Request-Id"],
    }


# Groups ------------------------------------------------------------------------------------------


def test_without_a_group_slots_join_the_users_imports_group_made_once(api, user):
    upload(api, calendar(event(uid="a")))
    upload(api, calendar(event(uid="b")))

    group = SlotGroup.objects.get(owner=user, name="Imports")
    assert sorted(group.slots.values_list("source_uid", flat=True)) == ["a", "b"]


def group_names(slot: Slot) -> list[str]:
    return sorted(slot.groups.values_list("name", flat=True))


def exported_calendar(client) -> str:
    response = client.post("/v1/export/ical", b"", content_type="application/json")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_ones_own_export_imported_again_changes_no_slot_and_files_none_in_imports(api, user):
    team = SlotGroupFactory(owner=user, name="Team")
    filed = SlotFactory(creator=user, title="Filed", groups=[team])
    loose = SlotFactory(creator=user, title="Loose")
    memberships = list(Slot.groups.through.objects.values_list("slot_id", "slotgroup_id"))

    response = upload(api, exported_calendar(api))

    assert counts(response) == (0, 0, 2)
    assert list(Slot.groups.through.objects.values_list("slot_id", "slotgroup_id")) == memberships
    assert (group_names(filed), group_names(loose)) == (["Team"], [])
    assert not SlotGroup.objects.filter(name="Imports").exists()


def test_a_slot_the_file_changes_is_updated_and_keeps_its_groups(api, user):
    team = SlotGroupFactory(owner=user, name="Team")
    slot = SlotFactory(creator=user, title="Before", groups=[team])
    changed = exported_calendar(api).replace("SUMMARY:Before", "SUMMARY:After")

    response = upload(api, changed)

    assert counts(response) == (0, 1, 0)
    slot.refresh_from_db()
    assert (slot.title, group_names(slot)) == ("After", ["Team"])
    assert not SlotGroup.objects.filter(name="Imports").exists()


def test_a_slot_taken_out_of_imports_stays_out_when_its_calendar_is_imported_again(api, user):
    upload(api, calendar(event(uid="a"), event(uid="b")))
    imports = SlotGroup.objects.get(owner=user, name="Imports")
    imports.slots.remove(Slot.objects.get(source_uid="a"))

    response = upload(api, calendar(event(uid="a", title="Renamed"), event(uid="b"), event(uid="c")))

    assert counts(response) == (1, 1, 1)
    assert sorted(imports.slots.values_list("source_uid", flat=True)) == ["b", "c"]


def test_with_a_group_slots_join_that_group(api, user):
    group = SlotGroupFactory(owner=user, name="Team")

    upload(api, calendar(event()), group=str(group.uuid))

    assert group.slots.get().title == "Kick-off"
    assert not SlotGroup.objects.filter(name="Imports").exists()


def test_a_member_imports_into_a_group_they_belong_to(client_for):
    member = UserFactory()
    group = SlotGroupFactory(name="Shared")
    group.members.add(member)

    response = upload(client_for(member), calendar(event()), group=str(group.uuid))

    assert response.status_code == 200
    assert group.slots.get().creator == member


def test_importing_again_into_another_group_adds_the_group_and_changes_nothing_else(api, user):
    upload(api, calendar(event()))
    team = SlotGroupFactory(owner=user, name="Team")

    response = upload(api, calendar(event()), group=str(team.uuid))

    assert counts(response) == (0, 0, 1)
    assert sorted(Slot.objects.get().groups.values_list("name", flat=True)) == ["Imports", "Team"]


# Matching ----------------------------------------------------------------------------------------


def test_the_same_file_twice_changes_nothing_the_second_time(api, user):
    data = calendar(event(uid="a"), event(uid="b", title="Review"))
    upload(api, data)
    before = list(Slot.objects.values())

    response = upload(api, data)

    assert counts(response) == (0, 0, 2)
    assert list(Slot.objects.values()) == before


def test_a_changed_event_updates_the_slot_it_made(api, user):
    upload(api, calendar(event(title="Kick-off")))
    slot = Slot.objects.get()

    response = upload(api, calendar(event(title="Kick-off, moved", start="20261208T090000Z")))

    assert counts(response) == (0, 1, 0)
    slot.refresh_from_db()
    assert (slot.title, slot.start) == ("Kick-off, moved", datetime(2026, 12, 8, 9, tzinfo=UTC))
    assert Slot.objects.count() == 1


def test_a_uid_that_is_the_uuid_of_the_users_slot_updates_that_slot(api, user):
    slot = SlotFactory(creator=user, title="Old title")

    response = upload(api, calendar(event(uid=str(slot.uuid).upper(), title="New title")))

    assert counts(response) == (0, 1, 0)
    slot.refresh_from_db()
    assert slot.title == "New title"
    assert slot.source_uid == ""


def test_a_uid_of_another_users_slot_makes_a_new_slot_and_leaves_theirs_alone(api, user):
    theirs = SlotFactory(title="Theirs")
    before = Slot.objects.filter(pk=theirs.pk).values().get()

    response = upload(api, calendar(event(uid=str(theirs.uuid), title="Mine now")))

    assert counts(response) == (1, 0, 0)
    assert Slot.objects.filter(pk=theirs.pk).values().get() == before
    mine = Slot.objects.get(creator=user)
    assert mine.uuid != theirs.uuid
    assert (mine.title, mine.source_uid) == ("Mine now", str(theirs.uuid))


def test_a_uid_another_user_imported_is_not_theirs_to_share(api, user):
    other = SlotFactory(title="Theirs")
    Slot.objects.filter(pk=other.pk).update(source_uid="shared@example.com")

    upload(api, calendar(event(uid="shared@example.com")))

    assert Slot.objects.get(pk=other.pk).title == "Theirs"
    assert Slot.objects.filter(creator=user, source_uid="shared@example.com").count() == 1


def test_one_bad_event_rejects_the_file_and_writes_nothing(api, user):
    existing = SlotFactory(creator=user, title="Untouched")

    response = upload(api, calendar(
        event(uid="good"), f"UID:{existing.uuid}\nSUMMARY:Changed\nDTSTART:20261207T090000Z", "UID:bad\nSUMMARY:x"
    ))

    assert response.status_code == 422
    assert response.json()["problems"] == [{"where": "line 15", "problem": "The event has no DTSTART."}]
    assert list(Slot.objects.values_list("title", flat=True)) == ["Untouched"]
    assert not SlotGroup.objects.exists()


def test_two_events_with_one_uid_are_422(api):
    response = upload(api, calendar(event(uid="twice"), event(uid="twice", title="Other")))

    assert response.status_code == 422
    assert response.json()["problems"] == [{"where": "line 10", "problem": "Has the same UID as line 4."}]


def test_two_events_that_would_update_one_slot_are_422(api, user):
    slot = SlotFactory(creator=user)
    Slot.objects.filter(pk=slot.pk).update(source_uid="from-google")

    response = upload(api, calendar(event(uid="from-google"), event(uid=str(slot.uuid))))

    assert response.status_code == 422
    assert response.json()["problems"] == [{"where": "line 10", "problem": "Updates the same slot as line 4."}]


def test_a_title_longer_than_the_column_is_cut_with_a_warning(api, user):
    response = upload(api, calendar(event(title="x" * 300)))

    assert response.json()["warnings"] == [{"where": "line 4", "warning": "The title was cut to 255 characters."}]
    assert Slot.objects.get().title == "x" * 255


def test_a_uid_longer_than_the_column_is_remembered_by_its_digest(api, user):
    data = calendar(event(uid="u" * 300))
    upload(api, data)

    assert counts(upload(api, data)) == (0, 0, 1)
    assert Slot.objects.get().source_uid.startswith("sha256:")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_import_of_the_same_event_is_409_not_a_crash(api, user):
    def first_import():
        slot = SlotFactory(creator=user, title="First")
        Slot.objects.filter(pk=slot.pk).update(source_uid="event-1@example.com")

    # Another request creates the slot of the same UID and commits while this import runs.
    with committed_meanwhile(first_import):
        response = upload(api, calendar(event()))

    assert response.status_code == 409
    assert Slot.objects.get().title == "First"


@pytest.mark.parametrize("name, content, where", [
    ("calendar.ics", calendar("UID:a\nDTSTART:00010101T000000"), "line 4"),
    ("calendar.ics", calendar("UID:a\nDTSTART;VALUE=DATE:99991230\nDURATION:P5D"), "line 4"),
    ("calendar.csv", "Subject,Start Date,All Day Event\r\nx,12/31/9999,True\r\n", "line 2"),
    ("backup.json", '{"format": "timeslot-export", "version": 1, "slots": [{"uuid": "%s", "title": "", '
     '"description": "", "location": "", "visibility": "public", "start": "9999-12-31T23:00:00Z", "end": null, '
     '"all_day": false, "time_zone": "UTC", "groups": []}]}' % uuid.uuid4(), "record 1"),
])
def test_a_date_at_the_edge_of_the_calendar_is_422_not_a_crash(api, name, content, where):
    response = upload(api, content, name=name)

    assert response.status_code == 422
    assert response.json()["problems"] == [{
        "where": where, "problem": "A date is out of range: slots start and end between the years 2 and 9998.",
    }]


def test_nul_characters_are_dropped_from_the_file_as_postgresql_stores_none(api):
    response = upload(api, calendar(event(uid="nul\x00@example.com", title="Kick\x00-off")))

    assert counts(response) == (1, 0, 0)
    slot = Slot.objects.get()
    assert (slot.title, slot.source_uid) == ("Kick-off", "nul@example.com")
