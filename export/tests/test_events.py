"""The slot-to-event mapping: slots saved, exported as the API exports them, read back by the icalendar parser."""
import dataclasses
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from icalendar.prop import vUnknown

from export.exports import export_for
from export.renderers import ICalendarRenderer
from export.tests.ical_reader import parse_calendar, parse_events
from slots.models import Slot
from slots.tests.factories import SlotFactory, SlotGroupFactory

pytestmark = pytest.mark.django_db

UTC = timezone.utc
STAMP = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def exported(slot, group=None) -> bytes:
    """The calendar of the slot's creator (of the group, if one is given), as the API writes it."""
    export = dataclasses.replace(export_for(user=slot.creator, group=group), stamp=STAMP)
    return b"".join(export.chunks(ICalendarRenderer()))


def event_of(**fields):
    """The slot saved with these fields, and its event as the export writes it."""
    fields = {
        "title": "Slot", "start": datetime(2026, 12, 1, 9, tzinfo=UTC), "end": datetime(2026, 12, 1, 10, tzinfo=UTC),
        **fields,
    }
    slot = SlotFactory(**fields)
    # Past auto_now, which decides these on save.
    Slot.objects.filter(pk=slot.pk).update(
        created_at=datetime(2026, 11, 1, tzinfo=UTC), updated_at=datetime(2026, 11, 2, 8, 15, 30, 999999, tzinfo=UTC)
    )
    slot.refresh_from_db()
    (event,) = parse_events(exported(slot))
    return slot, event


def test_an_event_carries_the_slot_uuid_times_and_text():
    slot, event = event_of(title="Review", description="Notes", location="Room 1")

    assert str(event["UID"]) == str(slot.uuid)
    assert event.decoded("DTSTAMP") == STAMP
    assert event.decoded("CREATED") == slot.created_at
    # RFC 5545 date-times have whole seconds: the fraction is cut off, never rounded up.
    assert event.decoded("LAST-MODIFIED") == slot.updated_at.replace(microsecond=0)
    assert event.decoded("DTSTART") == slot.start
    assert event.decoded("DTEND") == slot.end
    assert (str(event["SUMMARY"]), str(event["DESCRIPTION"]), str(event["LOCATION"])) == ("Review", "Notes", "Room 1")
    assert (str(event["STATUS"]), str(event["TRANSP"])) == ("CONFIRMED", "OPAQUE")


def test_times_are_utc_never_floating():
    _, event = event_of()

    assert event["DTSTART"].to_ical() == b"20261201T090000Z"
    assert event.decoded("DTSTART").tzinfo is not None


def test_empty_description_and_location_are_left_out():
    _, event = event_of(description="", location="")

    assert "DESCRIPTION" not in event and "LOCATION" not in event
    assert "SUMMARY" in event


def test_an_open_end_is_a_zero_duration_not_a_dtend():
    _, event = event_of(end=None)

    assert "DTEND" not in event
    assert event.decoded("DURATION") == timedelta(0)
    assert "X-TIMESLOT-ZERO-LENGTH" not in event["DURATION"].params


def test_a_slot_that_ends_as_it_starts_is_a_marked_zero_duration_not_a_dtend_equal_to_its_start():
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    _, event = event_of(start=start, end=start)

    # RFC 5545 §3.8.2.2: DTEND must be later than DTSTART; khal takes one equal to it for an hour.
    assert "DTEND" not in event
    assert event.decoded("DURATION") == timedelta(0)
    # Which tells an import it from an open end, a zero DURATION too.
    assert event["DURATION"].params["X-TIMESLOT-ZERO-LENGTH"] == "TRUE"


@pytest.mark.parametrize(
    ("visibility", "klass"),
    [("private", "PRIVATE"), ("friends", "CONFIDENTIAL"), ("public", "PUBLIC"), ("unheard-of", "PRIVATE")],
)
def test_class_comes_from_visibility_with_rfc_values_only(visibility, klass):
    _, event = event_of(visibility=visibility)

    assert str(event["CLASS"]) == klass


@pytest.mark.parametrize(
    ("start", "end", "first", "after"),
    [
        # A day stored as midnight to midnight: one day, exclusive end.
        (datetime(2026, 12, 24, tzinfo=UTC), datetime(2026, 12, 25, tzinfo=UTC), date(2026, 12, 24),
         date(2026, 12, 25)),
        # An end after midnight covers its whole day.
        (datetime(2026, 12, 24, tzinfo=UTC), datetime(2026, 12, 26, 10, tzinfo=UTC), date(2026, 12, 24),
         date(2026, 12, 27)),
        # An end on the start day still covers that day.
        (datetime(2026, 12, 24, 8, tzinfo=UTC), datetime(2026, 12, 24, 9, tzinfo=UTC), date(2026, 12, 24),
         date(2026, 12, 25)),
    ],
)
def test_all_day_slots_are_dates_with_an_exclusive_end(start, end, first, after):
    _, event = event_of(all_day=True, start=start, end=end)

    assert event["DTSTART"].params["VALUE"] == "DATE"
    assert event.decoded("DTSTART") == first
    assert event.decoded("DTEND") == after


def test_an_open_all_day_slot_is_its_first_day():
    _, event = event_of(all_day=True, start=datetime(2026, 12, 24, tzinfo=UTC), end=None)

    assert event.decoded("DTSTART") == date(2026, 12, 24)
    assert "DTEND" not in event
    assert event.decoded("DURATION") == timedelta(days=1)


def test_all_day_dates_are_read_in_the_slots_time_zone():
    # 23:30 UTC on the 23rd is already the 24th in Berlin.
    _, event = event_of(
        all_day=True, start=datetime(2026, 12, 23, 23, 30, tzinfo=UTC), end=None, time_zone="Europe/Berlin"
    )

    assert event.decoded("DTSTART") == date(2026, 12, 24)


@pytest.mark.parametrize("all_day", [False, True])
@pytest.mark.parametrize("length", [None, timedelta(0), timedelta(seconds=1), timedelta(hours=1)])
def test_no_event_ends_at_or_before_its_start(all_day, length):
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    _, event = event_of(start=start, end=None if length is None else start + length, all_day=all_day)

    assert "DTEND" not in event or event.decoded("DTEND") > event.decoded("DTSTART")


# What Python's str.splitlines() ends a line at, as vdirsyncer splits a calendar: LF, CR, VT, FF, FS, GS, RS,
# NEL, and the Unicode line and paragraph separators.
SPLITLINES_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# A content line (RFC 5545 §3.1): a name, then parameters or the value; or the continuation of a folded one.
CONTENT_LINE = re.compile(r"[A-Za-z0-9-]+[;:]|[ \t]")


def test_text_holds_no_line_break_that_splitlines_would_split_a_content_line_at():
    text = "".join(f"{n}{char}" for n, char in enumerate(SPLITLINES_BREAKS)) + " end"
    group = SlotGroupFactory(name=text)
    slot = SlotFactory(title=text, description=text, location=text, groups=[group], creator=group.owner)

    data = exported(slot, group)

    assert all(CONTENT_LINE.match(line) for line in data.decode().splitlines())
    (event,) = parse_events(data)
    # The Unicode separators are line breaks; the other controls cannot be TEXT at all, and are dropped.
    kept = "0\n1\n2345678\n9\n end"
    assert [str(event[name]) for name in ("SUMMARY", "DESCRIPTION", "LOCATION")] == [kept] * 3


@pytest.mark.parametrize(("name", "x_wr_calname"), [
    ("Team offsite", "Team offsite"),
    ("Team; A, B", "Team A B"),
    ("C:\\Users\\Nora", "C: Users Nora"),
    ("Plans,\nthen\u2028more;", "Plans then more"),
])
def test_the_calendar_is_named_in_name_as_text_and_in_x_wr_calname_with_nothing_to_unescape(name, x_wr_calname):
    group = SlotGroupFactory(name=name)

    calendar = parse_calendar(exported(SlotFactory(creator=group.owner, groups=[group]), group))

    assert str(calendar["NAME"]) == name.replace("\u2028", "\n")
    # icalendar reads an X- property untyped (as ical.js does): what it shows is what was written.
    assert isinstance(calendar["X-WR-CALNAME"], vUnknown)
    assert str(calendar["X-WR-CALNAME"]) == x_wr_calname
