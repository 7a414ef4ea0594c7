"""Export, import into a fresh user, export again: the second export equals the first.

Only what a format must change differs: uuids, the moment of export (DTSTAMP, exported_at) and
the new slots' own CREATED and LAST-MODIFIED.
"""
import json
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from export.tests.importing import upload
from slots.models import SlotGroup
from slots.tests.factories import SlotFactory, SlotGroupFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
ZONE = "Europe/Berlin"
TEXTS = [
    "Plain",
    "Ümlaut; comma, back\\slash \\N and C:\\Users\\Nora",
    'Quote "this", then; that',
    "=1+1 and '=quoted",
    "-dash first",
    "two\nlines and\r\nCRLF",
    "東京 🚀 👩‍💻 " + "long text that folds " * 10,
]
# (all day, days after the first day, length or None for an open end); the year crosses both DST changes.
# A timed slot may end as it starts: a length of zero, not an open end.
KINDS = [
    (False, 0, timedelta(hours=2, minutes=30)), (False, 1, None), (False, 2, timedelta(0)),
    (True, 16, 3), (True, 30, None),
]
SLOTS = len(TEXTS) * len(KINDS)


@pytest.fixture
def original(user):
    """A user's slots of every kind, starting at distinct moments (the order ties on start)."""
    team = SlotGroupFactory(owner=user, name="Team", description="Our team")
    first_day = datetime(2026, 12, 7, 8, 15, tzinfo=UTC)
    for number, text in enumerate(TEXTS):
        for index, (all_day, days, length) in enumerate(KINDS):
            start = first_day + timedelta(days=number * 40 + days)
            if all_day:
                # An all-day slot runs from midnight to midnight in its own zone.
                local = start.astimezone(ZoneInfo(ZONE)).date()
                start = datetime.combine(local, time(0), ZoneInfo(ZONE))
                end = datetime.combine(local + timedelta(days=length), time(0), ZoneInfo(ZONE)) if length else None
            else:
                end = None if length is None else start + length
            SlotFactory(
                creator=user, title=text, description=text[::-1], location=text[:20], time_zone=ZONE,
                start=start, end=end, all_day=all_day,
                visibility=("private", "public", "friends")[index % 3], groups=[team] if index % 2 else [],
            )
    return user


def export(client, fmt: str, **parameters) -> bytes:
    body = json.dumps(parameters) if parameters else b""
    response = client.post(f"/v1/export/{fmt}", body, content_type="application/json")
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def round_trip(client_for, user, fmt: str, **fields) -> tuple[bytes, bytes]:
    """The first export and the second; fields are both the exports' and the import's (a CSV's time_zone)."""
    first = export(client_for(user), fmt, **fields)
    fresh = client_for(UserFactory(username="fresh"))
    response = upload(fresh, first, name=f"export.{fmt}", **fields)
    assert response.status_code == 200, response.content
    assert response.json()["created"] == SLOTS
    return first, export(fresh, fmt, **fields)


def ical_lines(data: bytes) -> list[bytes]:
    """The calendar's content lines, unfolded, less those that must differ."""
    unfolded = data.replace(b"\r\n ", b"")
    differ = (b"UID:", b"DTSTAMP:", b"CREATED:", b"LAST-MODIFIED:")
    return [line for line in unfolded.split(b"\r\n") if not line.startswith(differ)]


def test_the_calendar_survives_a_round_trip(client_for, original):
    first, second = round_trip(client_for, original, "google")

    assert ical_lines(second) == ical_lines(first)
    assert first.count(b"BEGIN:VEVENT") == SLOTS


def test_the_csv_survives_a_round_trip_in_its_time_zone(client_for, original):
    # A CSV carries wall-clock times but no zone: the export writes them in one, the import is told it.
    first, second = round_trip(client_for, original, "outlook", time_zone=ZONE)

    assert second == first


def backup_without_identity(data: bytes) -> dict:
    document = json.loads(data)
    document["exported_at"] = None
    for record in document["slots"]:
        for field in ("uuid", "created_at", "updated_at"):
            record[field] = None
        for group in record["groups"]:
            group["uuid"] = None
    return document


def group_uuids(data: bytes) -> set[str]:
    return {group["uuid"] for record in json.loads(data)["slots"] for group in record["groups"]}


def test_the_backup_survives_a_round_trip(client_for, original):
    first, second = round_trip(client_for, original, "timeslot")

    assert backup_without_identity(second) == backup_without_identity(first)
    assert any(record["groups"] for record in json.loads(second)["slots"])
    # The other account's groups are its own, not the original's under their uuids.
    assert group_uuids(first).isdisjoint(group_uuids(second))


@pytest.mark.parametrize("fmt", ["google", "outlook", "timeslot"])
def test_importing_an_export_twice_changes_nothing_the_second_time(client_for, original, fmt):
    data = export(client_for(original), fmt)
    fresh = UserFactory(username="fresh")
    assert upload(client_for(fresh), data, name=f"export.{fmt}", time_zone=ZONE).json()["created"] == SLOTS
    groups = list(SlotGroup.objects.filter(owner=fresh).values())

    counts = upload(client_for(fresh), data, name=f"export.{fmt}", time_zone=ZONE).json()

    assert (counts["created"], counts["updated"], counts["unchanged"]) == (0, 0, SLOTS)
    assert list(SlotGroup.objects.filter(owner=fresh).values()) == groups


# A CSV row has no identity to recognise a slot by: its own export comes back as new slots.
# iCalendar TEXT has one line break (RFC 5545 3.3.11): the slots whose text held a CR are the
# only ones its import changes, to LF.
@pytest.mark.parametrize("fmt", ["google", "timeslot"])
def test_importing_ones_own_export_changes_nothing_but_line_breaks(client_for, original, fmt):
    client = client_for(original)
    data = export(client, fmt)
    changed = sum("\r" in text for text in TEXTS) * len(KINDS) if fmt == "google" else 0

    response = upload(client, data, name=f"again.{fmt}", time_zone=ZONE)

    assert response.status_code == 200, response.content
    counts = response.json()
    assert (counts["created"], counts["updated"], counts["unchanged"]) == (0, changed, SLOTS - changed)
