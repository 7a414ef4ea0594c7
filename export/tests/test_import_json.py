"""JSON import: the Timeslot backup restored, into the same account or another, checked field by field."""
import json
import logging
import uuid
from datetime import datetime, timezone
from functools import partial

import pytest
from django.test import override_settings

from export.tests import importing
from slots.models import Slot, SlotGroup
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

# Every file of this module is a Timeslot backup.
imported = partial(importing.imported, name="backup.json")
problems = partial(importing.problems, name="backup.json")

UTC = timezone.utc


def backup(client) -> bytes:
    response = client.post("/v1/export/timeslot", b"", content_type="application/json")
    return b"".join(response.streaming_content)


def record(**fields) -> dict:
    """A valid backup record, with some fields replaced."""
    return {
        "uuid": "0d6e2b1c-1111-4a1e-9c41-5b1f2d7a0001", "title": "Kick-off", "description": "",
        "location": "Room 4.12", "visibility": "friends", "start": "2026-12-07T09:00:00Z",
        "end": "2026-12-07T11:30:00Z", "all_day": False, "time_zone": "Europe/Lisbon",
        "created_at": "2026-11-01T12:00:00.000001Z", "updated_at": "2026-11-20T12:00:00Z", "groups": [],
        **fields,
    }


def document(*records: dict) -> str:
    return json.dumps({"format": "timeslot-export", "version": 1, "exported_at": "2026-11-28T08:00:00Z",
                       "slots": list(records)})


@pytest.fixture
def backed_up(user):
    """Slots of the user's in two of their groups, with every field set."""
    team = SlotGroupFactory(owner=user, name="Team", description="The core team")
    family = SlotGroupFactory(owner=user, name="Family")
    return [
        SlotFactory(creator=user, title="Kick-off", visibility="friends", time_zone="Europe/Lisbon",
                    start=datetime(2026, 12, 7, 9, 0, 0, 123456, tzinfo=UTC), groups=[team, family]),
        SlotFactory(creator=user, title="Holidays", all_day=True, end=None, time_zone="Europe/Berlin",
                    start=datetime(2026, 12, 23, 23, tzinfo=UTC), groups=[family]),
        SlotFactory(creator=user, title="Alone", description="Ünïcode\nlines", location="Café"),
    ]


def comparable(data: bytes) -> list[dict]:
    """A backup's records without what another account must differ in: uuids and moments of writing."""
    records = json.loads(data)["slots"]
    for item in records:
        for name in ("uuid", "created_at", "updated_at"):
            item.pop(name)
        item["groups"] = [{"name": group["name"], "description": group["description"]} for group in item["groups"]]
    return records


def test_a_backup_restored_into_its_own_account_changes_nothing(api, user, backed_up):
    before = list(Slot.objects.values())

    result = imported(api, backup(api))

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 3)
    assert list(Slot.objects.values()) == before


def test_a_backup_restores_what_changed_since(api, user, backed_up):
    data = backup(api)
    Slot.objects.filter(title="Kick-off").update(title="Renamed", visibility="public")

    result = imported(api, data)

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 1, 2)
    assert Slot.objects.get(uuid=backed_up[0].uuid).title == "Kick-off"
    assert Slot.objects.get(uuid=backed_up[0].uuid).visibility == "friends"


def test_a_backup_imported_into_another_account_backs_up_the_same(api, client_for, backed_up):
    first = backup(api)
    other = client_for(UserFactory(username="ines"))

    imported(other, first)

    assert comparable(backup(other)) == comparable(first)


def test_another_account_gets_new_uuids_remembering_the_old_ones(api, client_for, user, backed_up):
    other = UserFactory(username="ines")

    imported(client_for(other), backup(api))

    theirs = Slot.objects.filter(creator=other)
    assert {slot.source_uid for slot in theirs} == {str(slot.uuid) for slot in backed_up}
    assert not {slot.uuid for slot in theirs} & {slot.uuid for slot in backed_up}
    assert list(Slot.objects.filter(creator=user).values_list("title", flat=True)) == [
        slot.title for slot in sorted(backed_up, key=lambda slot: (slot.start, slot.uuid))
    ]


def test_another_users_groups_become_the_importers_own_of_that_name(api, client_for, user, backed_up):
    other = UserFactory(username="ines")
    own_team = SlotGroupFactory(owner=other, name="Team")

    imported(client_for(other), backup(api))

    assert set(SlotGroup.objects.filter(owner=other).values_list("name", flat=True)) == {"Team", "Family"}
    assert sorted(own_team.slots.values_list("title", flat=True)) == ["Kick-off"]
    # The original owner's groups have only their own slots.
    assert all(group.slots.filter(creator=other).count() == 0 for group in SlotGroup.objects.filter(owner=user))


def test_a_group_the_importer_belongs_to_is_used_as_it_is(client_for):
    owner, member = UserFactory(), UserFactory()
    shared = SlotGroupFactory(owner=owner, name="Shared")
    shared.members.add(member)
    groups = [{"uuid": str(shared.uuid), "name": "Shared", "description": ""}]

    imported(client_for(member), document(record(groups=groups)))

    assert shared.slots.get().creator == member
    assert not SlotGroup.objects.filter(owner=member).exists()


def test_a_group_that_exists_nowhere_is_created_with_its_uuid(api, user):
    group_uuid = uuid.uuid4()
    groups = [{"uuid": str(group_uuid), "name": "Restored", "description": "From a backup"}]

    imported(api, document(record(groups=groups)))

    group = SlotGroup.objects.get(uuid=group_uuid)
    assert (group.owner, group.name, group.description) == (user, "Restored", "From a backup")
    assert group.slots.get().title == "Kick-off"


def test_a_backup_without_a_group_parameter_adds_no_imports_group(api, user):
    imported(api, document(record()))

    assert not SlotGroup.objects.exists()


def test_a_group_parameter_also_applies_to_a_backup(api, user):
    team = SlotGroupFactory(owner=user)

    imported(api, document(record()), group=str(team.uuid))

    assert team.slots.count() == 1


def test_every_field_is_read(api, user):
    imported(api, document(record(start="2026-12-07T09:00:00.000001Z", end=None, all_day=True)))

    slot = Slot.objects.get()
    assert (slot.title, slot.location, slot.visibility, slot.time_zone) == (
        "Kick-off", "Room 4.12", "friends", "Europe/Lisbon"
    )
    assert (slot.start, slot.end, slot.all_day) == (datetime(2026, 12, 7, 9, 0, 0, 1, tzinfo=UTC), None, True)


@pytest.mark.parametrize("fields, problem", [
    ({"title": 12}, "title must be a string."),
    ({"all_day": 1}, "all_day must be true or false."),
    ({"uuid": "nope"}, "uuid must be a uuid, not 'nope'."),
    ({"start": "2026-12-07 09:00"}, "start must carry its offset (Z for UTC), not '2026-12-07 09:00'."),
    ({"start": "yesterday"}, "start must be an ISO 8601 date-time, not 'yesterday'."),
    ({"end": "2026-12-07T08:00:00Z"}, "end is before start."),
    ({"visibility": "everyone"}, "visibility must be one of private, friends, public, not 'everyone'."),
    ({"time_zone": "Mars/Base"}, "time_zone 'Mars/Base' is not an IANA time zone."),
    ({"groups": {}}, "groups must be a list."),
    ({"groups": [{"uuid": "x", "name": "a", "description": ""}]}, "a group's uuid must be a uuid, not 'x'."),
    ({"groups": [{"uuid": str(uuid.uuid4()), "name": "", "description": ""}]},
     "a group's name must be 1 to 255 characters."),
    ({"title": "\ud800"}, "title holds an unpaired surrogate (\\ud800-\\udfff)."),
])
def test_a_field_of_the_wrong_kind_is_a_problem_of_its_record(api, fields, problem):
    assert problems(api, document(record(), record(**{"uuid": str(uuid.uuid4()), **fields}))) == [
        {"where": "record 2", "problem": problem}
    ]
    assert not Slot.objects.exists()


def test_a_missing_field_is_named(api):
    incomplete = record()
    del incomplete["time_zone"]

    assert problems(api, document(incomplete)) == [{"where": "record 1", "problem": "time_zone is missing."}]


def test_a_record_that_is_not_an_object_is_a_problem(api):
    assert problems(api, document("slot")) == [{"where": "record 1", "problem": "A record must be an object."}]


def test_invalid_json_is_a_problem_at_its_line(api):
    assert problems(api, '{\n  "format": "timeslot-export",\n  "slots": [,]\n}') == [
        {"where": "line 3", "problem": "Not valid JSON: Expecting value."}
    ]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("data, problem", [
    ('{"format": "timeslot-export", "version": 1, "slots": ' + nested(100_000) + "}", "nested deeper than 32 levels"),
    ('{"format": "timeslot-export", "version": 1, "slots": [' + "[" * 100_000, "nested deeper than 32 levels"),
    ('{"format": "timeslot-export", "version": ' + "7" * 5_000 + ', "slots": []}',
     "an integer of more than 100 digits"),
], ids=["nested 100,000 deep", "100,000 [ unclosed", "a 5,000-digit version"])
def test_a_backup_nested_too_deep_or_with_a_5000_digit_integer_is_422_and_logs_no_error(api, caplog, data, problem):
    assert problems(api, data) == [{"where": "file", "problem": f"Not a JSON backup this service reads: {problem}."}]
    assert [record.levelname for record in caplog.records if record.levelno >= logging.WARNING] == ["WARNING"]
    assert not Slot.objects.exists()


def test_a_record_as_deep_as_the_limit_is_read_and_one_level_deeper_is_not(api):
    # The document, "slots", the record and its "groups" are four levels: 28 more make 32.
    as_deep = problems(api, document(record(groups=[json.loads(nested(28))])))
    deeper = problems(api, document(record(groups=[json.loads(nested(29))])))

    assert as_deep == [{"where": "record 1", "problem": "groups must hold objects with uuid, name and description."}]
    assert deeper == [
        {"where": "file", "problem": "Not a JSON backup this service reads: nested deeper than 32 levels."}
    ]


@pytest.mark.parametrize("data", [
    '{"format": "ical"}',
    '{"format": "timeslot-export", "version": 2, "slots": []}',
    '{"format": "timeslot-export", "version": true, "slots": []}',
    '{"format": "timeslot-export", "version": 1, "slots": {}}',
])
def test_a_document_that_is_not_a_backup_of_this_version_is_refused(api, data):
    (problem,) = problems(api, data)

    assert problem["where"] == "file"


def test_the_same_uuid_twice_is_a_problem(api):
    assert problems(api, document(record(), record(title="Other"))) == [
        {"where": "record 2", "problem": "Has the same UID as record 1."}
    ]


def test_nul_characters_are_dropped_as_postgresql_stores_none(api):
    groups = [{"uuid": str(uuid.uuid4()), "name": "Te\u0000am", "description": ""}]

    imported(api, document(record(title="Kick\u0000-off", description="a\u0000b", groups=groups)))

    assert (Slot.objects.get().title, Slot.objects.get().description) == ("Kick-off", "ab")
    assert SlotGroup.objects.get().name == "Team"


@override_settings(IMPORT_MAX_RECORDS=1)
def test_more_records_than_the_limit_is_422(api):
    assert problems(api, document(record(), record(uuid=str(uuid.uuid4())))) == [
        {"where": "file", "problem": "The file holds more than 1 records, the most one import takes."}
    ]
