"""Reading what we emit with the icalendar library, the independent parser of the tests."""
import icalendar

# icalendar reads unknown X- properties raw; X-WR-CALNAME is TEXT (Apple's and
# Google's de-facto definition), so it is unescaped like SUMMARY.
icalendar.Component.types_factory.types_map.setdefault("x-wr-calname", "text")


def parse_calendar(data: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(data)


def parse_events(data: bytes) -> list[icalendar.Event]:
    return parse_calendar(data).walk("VEVENT")
