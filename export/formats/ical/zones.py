"""Time zone names an import understands: IANA names, and the Windows names Outlook and Exchange write."""
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from slots.models import iana_time_zones


def is_iana(name: str) -> bool:
    """Whether a Slot.time_zone may hold this name (slots.models.validate_time_zone's rule)."""
    return name in iana_time_zones()


def iana_zone(name: str) -> str | None:
    """The IANA name for an IANA or a Windows zone name (Unicode CLDR's table, as icalendar ships it)."""
    if is_iana(name):
        return name
    return WINDOWS_TO_OLSON.get(name)
