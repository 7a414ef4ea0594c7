"""Time zone names an import understands: IANA names, and the Windows names Outlook and Exchange write."""
import functools
import zoneinfo

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON


@functools.cache
def iana_names() -> frozenset[str]:
    # Reading the tz database's index is slow; it does not change while the process runs.
    return frozenset(zoneinfo.available_timezones())


def is_iana(name: str) -> bool:
    """Whether a Slot.time_zone may hold this name (the rule of slots.models.validate_time_zone)."""
    return name in iana_names()


def iana_zone(name: str) -> str | None:
    """The IANA name for an IANA or a Windows zone name (Unicode CLDR's table, as icalendar ships it)."""
    if is_iana(name):
        return name
    return WINDOWS_TO_OLSON.get(name)
