"""Our streaming writer against the icalendar library's writer, over a few thousand generated slots.

The slots are saved and exported as the API exports them; the library renders
the same mapped properties (the database's date-time text read back as
datetimes). Both outputs are parsed back with icalendar and compared property
by property. The generated text leaves out what the library's writer gets
wrong (a backslash before N, control characters): test_ical.py covers those
for our writer.
"""
import dataclasses
import random
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from export.exports import export_for
from export.formats.ical.mapping import EVENT_COLUMNS, VEVENT, ZERO_LENGTH, every_event, slot_event
from export.formats.ical.writer import DATE_TIME
from export.renderers import ICalendarRenderer
from export.tests.ical_reader import parse_events
from slots.models import Slot
from slots.tests.factories import UserFactory

STAMP = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
ZONES = [timezone.utc, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
ALPHABET = "abc XYZ 019 ,;:\\\n\"'<>&%=+-@ éßçñ ΩЖ 東京 🚀👩‍💻 \t"


def text(rng: random.Random, longest: int) -> str:
    value = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))
    return value.replace("\\N", "\\ N")  # the reference writer turns \N into a line break


def generated_slots(creator, count: int, seed: int = 20261128) -> list[Slot]:
    rng = random.Random(seed)
    slots = []
    for _ in range(count):
        start = datetime(2020, 1, 1, tzinfo=rng.choice(ZONES)) + timedelta(
            minutes=rng.randint(0, 5_000_000), microseconds=rng.choice([0, 999_999, rng.randint(0, 999_999)])
        )
        # Some open ends, some that end as they start.
        kind = rng.random()
        end = None if kind < 0.15 else start if kind < 0.2 else start + timedelta(minutes=rng.randint(0, 20_000))
        slots.append(Slot(
            uuid=uuid.UUID(int=rng.getrandbits(128), version=4), creator=creator,
            title=text(rng, 80), description=text(rng, 400), location=text(rng, 60),
            start=start, end=end, all_day=rng.random() < 0.2, time_zone=str(rng.choice(ZONES)),
            visibility=rng.choice(["private", "friends", "public"]),
        ))
    return slots


def mapped_properties(row) -> list[tuple]:
    """The (name, value) pairs of a row's event, the database's date-time text read back as a datetime, the
    duration that carries a parameter as the duration alone."""
    return [
        (name, datetime.fromisoformat(value) if value_type == DATE_TIME and isinstance(value, str) else
         timedelta(0) if value == ZERO_LENGTH else value)
        for (name, value_type), value in zip(VEVENT, slot_event(row))
        if value is not None
    ]


def reference(events) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", "-//Timeslot//Timeslot Export//EN")
    for properties in events:
        event = icalendar.Event()
        for name, value in [*properties, *every_event(stamp=STAMP)]:
            event.add(name, value)
        calendar.add_component(event)
    return calendar.to_ical()


@pytest.mark.django_db
def test_our_writer_reads_back_like_the_icalendar_librarys_over_3000_slots():
    user = UserFactory()
    Slot.objects.bulk_create(generated_slots(user, 3000))
    export = dataclasses.replace(export_for(user=user), stamp=STAMP)

    mine = parse_events(b"".join(export.chunks(ICalendarRenderer())))
    events = [mapped_properties(row) for row in export.rows(*EVENT_COLUMNS, named=False)]
    theirs = parse_events(reference(events))

    assert len(mine) == len(theirs) == 3000
    for properties, my_event, their_event in zip(events, mine, theirs):
        names = [name for name, _ in [*properties, *every_event(stamp=STAMP)]]
        assert sorted(my_event.keys()) == sorted(their_event.keys()) == sorted(names)
        for name in names:
            assert my_event.decoded(name) == their_event.decoded(name), (name, my_event["UID"])
