"""Reading what we emit with the icalendar library, the independent parser of the tests."""
import icalendar

# RFC 7986 §5.1 makes NAME TEXT, which icalendar 7.3 does not know yet: it would read it
# raw, escapes and all. X- properties it reads raw (untyped), as ical.js does, and so
# X-WR-CALNAME stays.
icalendar.Component.types_factory.types_map.setdefault("name", "text")


def parse_calendar(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def parse_events(data: bytes) -> list[icalendar.Event]:
    return parse_calendar(data).walk("VEVENT")
