"""Time zone names an import understands: IANA names, the Windows names Outlook and Exchange write, and the
"globally unique" names of libical, Evolution and Thunderbird, a vendor's path before an IANA name."""
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from slots.models import iana_time_zones

# The most parts an IANA name has ("America/Argentina/Buenos_Aires").
MAX_NAME_PARTS = 3


def is_iana(name: str) -> bool:
    """Whether a Slot.time_zone may hold this name (slots.models.validate_time_zone's rule)."""
    return name in iana_time_zones()


def iana_zone(name: str) -> str | None:
    """The IANA name for an IANA, a Windows, or a globally unique zone name; None for any other.

    The names are tried as icalendar's own lookup tries them (icalendar.timezone.tzp.TZP._lookup_ids):
    the name without the slashes around it ("/Europe/Stockholm"), its Windows name's zone (Unicode
    CLDR's table, as icalendar ships it), then, for a name that begins with a slash (RFC 5545 §3.2.19:
    "/freeassociation.sourceforge.net/Europe/Berlin", "/mozilla.org/20070129_1/America/New_York"), what
    follows the vendor's path, longest first, so that "America/Argentina/Buenos_Aires" is found whole.
    No IANA name has more than MAX_NAME_PARTS parts: only those at the end are tried, whatever the file's
    name is, so a made-up one of a million slashes costs no more than its length.
    """
    cleaned = name.strip("/")
    for candidate in (cleaned, WINDOWS_TO_OLSON.get(cleaned)):
        if candidate and is_iana(candidate):
            return candidate
    if name.startswith("/"):
        parts = cleaned.rsplit("/", MAX_NAME_PARTS)[1:]
        for start in range(len(parts)):
            candidate = "/".join(parts[start:])
            if is_iana(candidate):
                return candidate
    return None
