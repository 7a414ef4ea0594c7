"""Our streaming writer against the icalendar library's writer, over a few thousand generated slots.

Both render the same mapped properties; both outputs are parsed back with
icalendar and compared property by property. The generated text leaves out
what the library's writer gets wrong (a backslash before N, control
characters): test_ical.py covers those for our writer.
"""
import random
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar

from export.events import every_event, slot_event
from export.ical import calendar_chunks
from export.tests.ical_reader import parse_events
from slots.models import Slot

STAMP = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
ZONES = [timezone.utc, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
ALPHABET = "abc XYZ 019 ,;:\\\n\"'<>&%=+-@ éßçñ ΩЖ 東京 🚀👩‍💻 \t"


def text(rng: random.Random, longest: int) -> str:
    value = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, longest)))
    return value.replace("\\N", "\\ N")  # the reference writer turns \N into a line break


def generated_slots(count: int, seed: int = 20261128) -> list[Slot]:
    rng = random.Random(seed)
    slots = []
    for _ in range(count):
        start = datetime(2020, 1, 1, tzinfo=rng.choice(ZONES)) + timedelta(minutes=rng.randint(0, 5_000_000))
        end = None if rng.random() < 0.15 else start + timedelta(minutes=rng.randint(0, 20_000))
        slots.append(Slot(
            uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
            title=text(rng, 80), description=text(rng, 400), location=text(rng, 60),
            start=start, end=end, all_day=rng.random() < 0.2,
            visibility=rng.choice(["private", "friends", "public"]),
            created_at=start - timedelta(days=30), updated_at=start - timedelta(days=1),
        ))
    return slots


def ours(events) -> bytes:
    calendar = [("VERSION", "2.0"), ("PRODID", "-//test//EN")]
    return b"".join(calendar_chunks(calendar, events, every_event=every_event(stamp=STAMP)))


def reference(events) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", "-//test//EN")
    for properties in events:
        event = icalendar.Event()
        for name, value in [*properties, *every_event(stamp=STAMP)]:
            event.add(name, value)
        calendar.add_component(event)
    return calendar.to_ical()


def test_our_writer_reads_back_like_the_icalendar_librarys_over_3000_slots():
    events = [slot_event(slot) for slot in generated_slots(3000)]

    mine, theirs = parse_events(ours(events)), parse_events(reference(events))

    assert len(mine) == len(theirs) == 3000
    for properties, my_event, their_event in zip(events, mine, theirs):
        names = [name for name, _ in [*properties, *every_event(stamp=STAMP)]]
        assert sorted(my_event.keys()) == sorted(their_event.keys()) == sorted(names)
        for name in names:
            assert my_event.decoded(name) == their_event.decoded(name), (name, my_event["UID"])
