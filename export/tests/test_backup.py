"""POST /v1/export/timeslot: the JSON backup, read back with the json module."""
import json
from datetime import datetime, timezone

import pytest

from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc


def backup(client, **data) -> tuple:
    response = client.post("/v1/export/timeslot", data, format="json")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def parsed(moment: str | None) -> datetime | None:
    return None if moment is None else datetime.fromisoformat(moment.replace("Z", "+00:00"))


def test_the_backup_is_a_json_document_of_the_users_slots(api, user):
    SlotFactory.create_batch(2, creator=user)
    SlotFactory()

    response, body = backup(api)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="Timeslot-Export.json"'
    document = json.loads(body)
    assert (document["format"], document["version"]) == ("timeslot-export", 1)
    assert parsed(document["exported_at"]).tzinfo is not None
    assert len(document["slots"]) == 2


def test_every_field_of_a_slot_is_kept(api, user):
    slot = SlotFactory(
        creator=user, title="Ünïcode; title", description="line\nbreak", location="Café",
        visibility="friends", all_day=True, time_zone="Europe/Berlin",
        start=datetime(2026, 12, 23, 23, 0, 0, 123456, tzinfo=UTC), end=None,
    )

    (record,) = json.loads(backup(api)[1])["slots"]

    slot.refresh_from_db()
    assert record == {
        "uuid": str(slot.uuid), "title": "Ünïcode; title", "description": "line\nbreak", "location": "Café",
        "visibility": "friends", "start": "2026-12-23T23:00:00.123456Z", "end": None, "all_day": True,
        "time_zone": "Europe/Berlin", "created_at": record["created_at"], "updated_at": record["updated_at"],
        "groups": [],
    }
    assert parsed(record["created_at"]) == slot.created_at
    assert parsed(record["updated_at"]) == slot.updated_at


def test_each_slot_lists_all_its_groups_in_name_order(api, user):
    alpha, beta = SlotGroupFactory(owner=user, name="Alpha"), SlotGroupFactory(name="Beta", description="theirs")
    beta.members.add(user)
    both = SlotFactory(creator=user, groups=[beta, alpha])
    none = SlotFactory(creator=user, start=both.start.replace(year=both.start.year + 1))

    records = {record["uuid"]: record for record in json.loads(backup(api)[1])["slots"]}

    assert records[str(both.uuid)]["groups"] == [
        {"uuid": str(alpha.uuid), "name": "Alpha", "description": ""},
        {"uuid": str(beta.uuid), "name": "Beta", "description": "theirs"},
    ]
    assert records[str(none.uuid)]["groups"] == []


def test_a_group_export_keeps_every_group_of_its_slots(api, user):
    team, other = SlotGroupFactory(owner=user, name="Team"), SlotGroupFactory(owner=user, name="Other")
    slot = SlotFactory(creator=user, groups=[team, other])
    SlotFactory(creator=user, groups=[other])

    (record,) = json.loads(backup(api, group=str(team.uuid))[1])["slots"]

    assert record["uuid"] == str(slot.uuid)
    assert [group["name"] for group in record["groups"]] == ["Other", "Team"]


def test_hostile_text_stays_data(api, user):
    hostile = '"]}, {"uuid": "evil"} \u2028 \x1b </script>'
    SlotFactory(creator=user, title=hostile)

    (record,) = json.loads(backup(api)[1])["slots"]

    assert record["title"] == hostile


def test_large_backups_stream_with_a_constant_number_of_queries(api, user, django_assert_num_queries):
    group = SlotGroupFactory(owner=user)
    SlotFactory.create_batch(300, creator=user, groups=[group], description="long text " * 20)

    # Token, group, the slot limit's bounded count, slots, memberships, and the savepoint around the
    # read; then the export log's one INSERT in a savepoint of its own (the test's transaction turns its
    # BEGIN and COMMIT into one).
    with django_assert_num_queries(10):
        response = api.post("/v1/export/timeslot", {"group": str(group.uuid)}, format="json")
        chunks = list(response.streaming_content)

    assert len(chunks) > 2
    records = json.loads(b"".join(chunks))["slots"]
    assert len(records) == 300
    assert all(record["groups"] == [{"uuid": str(group.uuid), "name": group.name, "description": ""}]
               for record in records)
    assert [record["uuid"] for record in records] == [
        str(slot.uuid) for slot in Slot.objects.filter(creator=user).order_by("start", "uuid")
    ]
