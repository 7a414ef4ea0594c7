"""How a slot becomes an iCalendar event: one mapping for every calendar we write.

The rules (UTC times, all-day dates, open ends, CLASS) are explained with
their reasons in docs/calendar-format.md.
"""
import re
import zoneinfo
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

from export.formats.ical.writer import DATE_TIME, DURATION, TEXT, Property, Value
from export.formats.sql_text import UTCDateTimeText, UUIDText
from slots.models import Slot

# What the export reads of each slot, in the order slot_event() unpacks it
# (fields before expressions: the order of the SELECT, which Django then need
# not rearrange). The database writes the uuid and the times as the text the
# calendar carries: building objects for them and formatting them back cost as
# much as fetching the rows (docs/performance.md).
EVENT_COLUMNS = (
    "title", "description", "location", "all_day", "time_zone", "visibility",
    UUIDText("uuid"), UTCDateTimeText("start"), UTCDateTimeText("end"),
    UTCDateTimeText("created_at"), UTCDateTimeText("updated_at"),
)

# A slot's VEVENT, line by line: each property and its value type, in the order
# written. slot_event() gives the values in this order; None leaves a line out.
VEVENT = (
    ("UID", TEXT),
    ("CREATED", DATE_TIME),
    ("LAST-MODIFIED", DATE_TIME),
    ("DTSTART", DATE_TIME),
    # Exactly one of DTEND and DURATION. An open end is the length §3.6.1 gives
    # an event without an end (none for a time, one day for a date), said
    # outright: Exchange refuses events with neither DTEND nor DURATION, and
    # DURATION tells an import it was open.
    # A slot that ends as it starts is a zero DURATION too (§3.8.2.2: DTEND must
    # be later than DTSTART), marked (ZERO_LENGTH) so that an import tells it
    # from an open end.
    ("DTEND", DATE_TIME),
    ("DURATION", DURATION),
    # Free text; an empty description or location is left out.
    ("SUMMARY", TEXT),
    ("DESCRIPTION", TEXT),
    ("LOCATION", TEXT),
    ("CLASS", TEXT),
)

# RFC 5545 §3.8.1.3 knows PUBLIC, PRIVATE and CONFIDENTIAL; "friends" is the
# middle one. Anything unknown is exported as the most private.
CLASS_BY_VISIBILITY = {
    Slot.Visibility.PUBLIC: "PUBLIC",
    Slot.Visibility.FRIENDS: "CONFIDENTIAL",
    Slot.Visibility.PRIVATE: "PRIVATE",
}


OPEN_END = timedelta(0)
OPEN_END_ALL_DAY = timedelta(days=1)
# A parameter of ours on that DURATION: clients ignore parameters they do not
# know (§3.2), and it costs the events that have none of it nothing.
ZERO_LENGTH_MARK = "X-TIMESLOT-ZERO-LENGTH"
ZERO_LENGTH = f";{ZERO_LENGTH_MARK}=TRUE:PT0S"

# What a TEXT value escapes (§3.3.11), and white space: X-WR-CALNAME holds none of it.
_ESCAPED_OR_SPACE = re.compile(r"[\s\\;,]+")


def all_day_dates(start: datetime, end: datetime | None, zone: str) -> tuple[date, date | None]:
    """The first day and the exclusive end day (§3.6.1) of an all-day slot.

    Days are read in the slot's time zone. An end after midnight covers its
    whole day; an all-day slot always covers at least its first day.
    """
    tz = zoneinfo.ZoneInfo(zone)
    first = start.astimezone(tz).date()
    if end is None:
        return first, None
    local_end = end.astimezone(tz)
    after = local_end.date() if local_end.time() == datetime.min.time() else local_end.date() + timedelta(days=1)
    return first, max(after, first + timedelta(days=1))


def calendar_names(name: str) -> list[Property]:
    """The calendar's name, for readers of RFC 7986's NAME and of the older X-WR-CALNAME.

    NAME is TEXT, escaped like a title. ical.js (Thunderbird, Nextcloud) and icalendar read
    X- properties untyped, so they would show its escapes: X-WR-CALNAME carries the name with
    each run of the characters TEXT escapes (and of white space) as one space, which reads the
    same to both kinds of reader.
    """
    return [("NAME", name), ("X-WR-CALNAME", " ".join(_ESCAPED_OR_SPACE.split(name)).strip())]


def every_event(*, stamp: datetime) -> list[Property]:
    """What every event of one export carries alike: the export's moment, and a
    slot's nature: time taken (OPAQUE), and confirmed once it exists."""
    return [("DTSTAMP", stamp), ("STATUS", "CONFIRMED"), ("TRANSP", "OPAQUE")]


def slot_event(row: tuple) -> tuple[Value | None, ...]:
    """The values of a slot's VEVENT, in VEVENT's order, from a row of EVENT_COLUMNS."""
    title, description, location, all_day, zone, visibility, uid, start, end, created, modified = row
    if all_day:
        start, end = all_day_dates(datetime.fromisoformat(start), end and datetime.fromisoformat(end), zone)
        open_end = OPEN_END_ALL_DAY
    else:
        open_end = OPEN_END
    if end is None:
        duration = open_end
    elif end == start:
        # Only a timed slot: an all-day one covers at least its first day.
        end, duration = None, ZERO_LENGTH
    else:
        duration = None
    return (
        uid, created, modified, start,
        end, duration,
        title, description or None, location or None,
        CLASS_BY_VISIBILITY.get(visibility, "PRIVATE"),
    )


# How much of a slot an event tells (a feed's detail level): everything; the
# title and times, for a calendar shown on a wall; or only that the time is
# taken, for colleagues, as Outlook's, Fastmail's and Proton's shared
# calendars offer. What is not told is left out of the event, not blanked.
DETAIL_FULL, DETAIL_TITLES, DETAIL_BUSY = "full", "titles", "busy"
BUSY_SUMMARY = "Busy"


def _position(name: str) -> int:
    return [property_name for property_name, _ in VEVENT].index(name)


# Where the values a detail level leaves out or replaces stand in slot_event()'s (VEVENT's order).
SUMMARY_AT, DESCRIPTION_AT, LOCATION_AT, CLASS_AT = map(_position, ("SUMMARY", "DESCRIPTION", "LOCATION", "CLASS"))


def titles_event(row: tuple) -> list[Value | None]:
    """slot_event() without the description and the location."""
    values = list(slot_event(row))
    values[DESCRIPTION_AT] = values[LOCATION_AT] = None
    return values


def busy_event(row: tuple) -> list[Value | None]:
    """slot_event() that says only when: "Busy", and private whatever the slot's visibility."""
    values = titles_event(row)
    values[SUMMARY_AT], values[CLASS_AT] = BUSY_SUMMARY, "PRIVATE"
    return values


EVENT_BY_DETAIL: dict[str, Callable[[tuple], Sequence[Value | None]]] = {
    DETAIL_FULL: slot_event,
    DETAIL_TITLES: titles_event,
    DETAIL_BUSY: busy_event,
}
