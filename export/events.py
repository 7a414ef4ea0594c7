"""How a slot becomes an iCalendar event: one mapping for every calendar we write.

The rules (UTC times, all-day dates, open ends, CLASS) are explained with
their reasons in docs/calendar-format.md.
"""
import zoneinfo
from datetime import date, datetime, timedelta

from export.ical import Property
from slots.models import Slot

# The columns the mapping reads; the export fetches these and nothing else.
EVENT_FIELDS = (
    "uuid", "title", "description", "location", "start", "end", "all_day", "time_zone",
    "visibility", "created_at", "updated_at",
)

# Free-text fields, in the order they are written; empty optional ones are left out.
TEXT_PROPERTIES = (
    ("SUMMARY", "title", True),
    ("DESCRIPTION", "description", False),
    ("LOCATION", "location", False),
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


def every_event(*, stamp: datetime) -> list[Property]:
    """What every event of one export carries alike: the export's moment, and a
    slot's nature: time taken (OPAQUE), and confirmed once it exists."""
    return [("DTSTAMP", stamp), ("STATUS", "CONFIRMED"), ("TRANSP", "OPAQUE")]


def slot_event(slot) -> list[Property]:
    """The VEVENT properties of a slot (a Slot or a row with the EVENT_FIELDS), but every_event()'s."""
    if slot.all_day:
        (start, end), open_end = all_day_dates(slot.start, slot.end, slot.time_zone), OPEN_END_ALL_DAY
    else:
        start, end, open_end = slot.start, slot.end, OPEN_END
    return [
        ("UID", str(slot.uuid)),
        ("CREATED", slot.created_at),
        ("LAST-MODIFIED", slot.updated_at),
        ("DTSTART", start),
        # An open end is the length §3.6.1 gives an event without an end (none
        # for a time, one day for a date), said outright: Exchange refuses events
        # with neither DTEND nor DURATION, and DURATION tells an import it was open.
        ("DTEND", end) if end is not None else ("DURATION", open_end),
        *[(name, getattr(slot, field)) for name, field, always in TEXT_PROPERTIES if always or getattr(slot, field)],
        ("CLASS", CLASS_BY_VISIBILITY.get(slot.visibility, "PRIVATE")),
    ]
