"""JSON import: the Timeslot backup restored, into the same account or another, checked field by field."""
import json
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import partial

import pytest
from django.db import connection
from django.test import override_settings

from export.tests import importing
from slots.models import Slot, SlotGroup
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

# Every file of this module is a Timeslot backup.
imported = partial(importing.imported, name="backup.json")
upload = partial(importing.upload, name="backup.json")
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


def groups_of(user) -> list[tuple]:
    """The user's groups, each with the titles of its slots."""
    return [
        (group.uuid, group.name, group.description, sorted(group.slots.values_list("title", flat=True)))
        for group in SlotGroup.objects.filter(owner=user)
    ]


def test_a_backup_restored_into_its_own_account_changes_nothing(api, user, backed_up):
    before = list(Slot.objects.values()), groups_of(user)

    result = imported(api, backup(api))

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 3)
    assert (list(Slot.objects.values()), groups_of(user)) == before


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


def test_a_group_that_exists_nowhere_is_created_with_a_uuid_of_its_own(api, user):
    group_uuid = uuid.uuid4()
    groups = [{"uuid": str(group_uuid), "name": "Restored", "description": "From a backup"}]

    imported(api, document(record(groups=groups)))

    group = SlotGroup.objects.get()
    assert (group.owner, group.name, group.description) == (user, "Restored", "From a backup")
    assert group.uuid != group_uuid
    assert group.slots.get().title == "Kick-off"


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL run inside the block, with its placeholders and without its savepoints' names
    (counters): what it does, not whose rows it names."""
    run: list[str] = []

    def note(execute, sql, params, many, context):
        run.append(re.sub(r'SAVEPOINT "\w+"', "SAVEPOINT", sql))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        yield run


def test_a_uuid_of_another_users_group_or_slot_answers_exactly_like_one_that_exists_nowhere(client_for):
    """An importer learns nothing of uuids that are not theirs: the same answer, the same statements,
    the same groups and slots made, and none of them takes a uuid the file chose."""
    stranger = UserFactory()
    their_group = SlotGroupFactory(owner=stranger, name="Probe")
    their_slot = SlotFactory(creator=stranger, groups=[their_group])
    probes = {"existing": (their_slot.uuid, their_group.uuid), "unknown": (uuid.uuid4(), uuid.uuid4())}
    answers = {}
    for case, (slot_uuid, group_uuid) in probes.items():
        client = client_for(UserFactory(username=case))
        groups = [{"uuid": str(group_uuid), "name": "Probe", "description": ""}]
        with statements() as run:
            response = upload(client, document(record(uuid=str(slot_uuid), groups=groups)))
        restored = backup(client)
        assert response.status_code == 200
        assert str(slot_uuid) not in restored.decode() and str(group_uuid) not in restored.decode()
        answers[case] = (response.content, run, comparable(restored))

    assert answers["existing"] == answers["unknown"]
    assert list(their_group.slots.all()) == [their_slot]


def test_another_account_gets_the_groups_once_with_uuids_of_its_own(api, client_for, user, backed_up):
    other = UserFactory(username="ines")
    data = backup(api)
    imported(client_for(other), data)
    first = groups_of(other)

    result = imported(client_for(other), data)

    assert (result["created"], result["updated"], result["unchanged"]) == (0, 0, 3)
    assert groups_of(other) == first
    assert [(name, titles) for _, name, _, titles in first] == [
        ("Family", ["Holidays", "Kick-off"]), ("Team", ["Kick-off"])
    ]
    assert not {group_uuid for group_uuid, *_ in first} & {group_uuid for group_uuid, *_ in groups_of(user)}


def test_a_group_renamed_after_an_import_is_found_again_by_the_backups_uuid(api, client_for, backed_up):
    other = UserFactory(username="ines")
    data = backup(api)
    imported(client_for(other), data)
    SlotGroup.objects.filter(owner=other, name="Team").update(name="Core team")

    imported(client_for(other), data)

    assert [name for _, name, *_ in groups_of(other)] == ["Core team", "Family"]


def test_a_deleted_group_comes_back_from_its_backup_once_with_a_new_uuid(api, user, backed_up):
    data = backup(api)
    team = SlotGroup.objects.get(owner=user, name="Team")
    team.delete()

    imported(api, data)
    imported(api, data)

    restored = SlotGroup.objects.get(owner=user, name="Team")
    assert restored.uuid != team.uuid
    assert restored.description == "The core team"
    assert list(restored.slots.values_list("title", flat=True)) == ["Kick-off"]


def test_two_groups_of_one_name_in_a_backup_stay_two_groups(api, client_for, user):
    first, second = SlotGroupFactory(owner=user, name="Team"), SlotGroupFactory(owner=user, name="Team")
    SlotFactory(creator=user, title="One", groups=[first])
    SlotFactory(creator=user, title="Two", groups=[second])
    other = UserFactory(username="ines")

    imported(client_for(other), backup(api))
    imported(client_for(other), backup(api))

    assert sorted(titles for *_, titles in groups_of(other)) == [["One"], ["Two"]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_concurrent_import_of_the_same_backups_group_is_409_not_a_second_group(client_for):
    importer, group_uuid = UserFactory(username="ines"), uuid.uuid4()
    groups = [{"uuid": str(group_uuid), "name": "Team", "description": ""}]
    # Another request makes the group from the same uuid and commits while this import runs.
    with importing.committed_meanwhile(
        lambda: SlotGroupFactory(owner=importer, name="Team", source_uuid=group_uuid)
    ):
        response = upload(client_for(importer), document(record(groups=groups)))

    assert response.status_code == 409
    assert SlotGroup.objects.filter(owner=importer).count() == 1
    assert not Slot.objects.exists()


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
