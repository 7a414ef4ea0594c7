"""A streaming iCalendar (RFC 5545) writer: escape, format, fold, yield chunks.

It knows the format and nothing of slots: components arrive as sequences of
(name, value) properties, where a value is text, a date, an aware datetime
or a duration. It works on UTF-8 bytes throughout, because folding counts
octets and because bytes operations run at C speed: an export is a loop over
hundreds of thousands of events (docs/performance.md).
"""
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone

from export.chunks import in_chunks

CRLF = b"\r\n"
# RFC 5545 §3.1: lines SHOULD NOT be longer than 75 octets, excluding the line break.
LINE_OCTETS = 75
# RFC 7986 §5.7: REFRESH-INTERVAL gives its value type no default, so VALUE=DURATION is said outright.
_DURATION_NAMED = frozenset({"REFRESH-INTERVAL"})

Value = str | date | datetime | timedelta
Property = tuple[str, Value]

# RFC 5545 §3.3.11: TEXT cannot hold control characters but HTAB; line breaks
# become \n, the others are dropped, so no value can start a property or a
# component of its own. C0 and DEL are single bytes in UTF-8, C1 two (\xc2\x80-\x9f).
_NEEDS_ESCAPING = re.compile("[\\\\;,\x00-\x08\x0a-\x1f\x7f-\x9f]")
_C0_AND_DEL = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_C1 = re.compile(b"\xc2[\x80-\x9f]")


def escape_text(text: str) -> bytes:
    """The TEXT value of RFC 5545 §3.3.11 for this string, as UTF-8."""
    if not _NEEDS_ESCAPING.search(text):
        return text.encode()
    octets = text.encode()
    if b"\r" in octets:
        octets = octets.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    octets = octets.translate(None, _C0_AND_DEL)
    if b"\xc2" in octets:
        octets = _C1.sub(b"", octets)
    return octets.replace(b"\\", b"\\\\").replace(b";", b"\\;").replace(b",", b"\\,").replace(b"\n", b"\\n")


def format_datetime(value: datetime) -> bytes:
    """A DATE-TIME in UTC (§3.3.5, form 2); a floating (naive) time is refused."""
    # Rows arrive in UTC (Django's connections run in UTC): skip the offset arithmetic then.
    if value.tzinfo is not timezone.utc:
        offset = value.utcoffset()
        if offset is None:
            raise ValueError(f"{value!r} is floating: exports carry aware datetimes only")
        value = value.astimezone(timezone.utc)
    return b"%04d%02d%02dT%02d%02d%02dZ" % (value.year, value.month, value.day, value.hour, value.minute, value.second)


def format_duration(duration: timedelta) -> bytes:
    """A DURATION value (§3.3.6): P1D, PT1H30M, PT0S."""
    sign = "-" if duration < timedelta(0) else ""
    duration = abs(duration)
    hours, rest = divmod(duration.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    days = f"{duration.days}D" if duration.days else ""
    time = "".join(f"{amount}{unit}" for amount, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if amount)
    if not days and not time:
        time = "0S"
    return f"{sign}P{days}{'T' + time if time else ''}".encode()


def content_line(name: str, value: Value) -> bytes:
    """One property as a content line, folded, without its final line break."""
    if isinstance(value, str):
        line = b"%s:%s" % (name.encode(), escape_text(value))
        # Only text can outgrow a line.
        return line if len(line) <= LINE_OCTETS else fold(line)
    if isinstance(value, datetime):
        return b"%s:%s" % (name.encode(), format_datetime(value))
    if isinstance(value, date):
        return b"%s;VALUE=DATE:%04d%02d%02d" % (name.encode(), value.year, value.month, value.day)
    if isinstance(value, timedelta):
        parameter = b";VALUE=DURATION" if name in _DURATION_NAMED else b""
        return b"%s%s:%s" % (name.encode(), parameter, format_duration(value))
    raise TypeError(f"{name}: cannot write a {type(value).__name__}")


def fold(line: bytes) -> bytes:
    """The line folded at 75 octets without splitting a UTF-8 character (§3.1)."""
    pieces = []
    start, limit = 0, LINE_OCTETS
    while len(line) - start > limit:
        end = start + limit
        # Step back over UTF-8 continuation bytes (10xxxxxx) to a character boundary.
        while line[end] & 0xC0 == 0x80:
            end -= 1
        pieces.append(line[start:end])
        # A continuation line starts with one space, which counts towards its 75 octets.
        start, limit = end, LINE_OCTETS - 1
    pieces.append(line[start:])
    return b"\r\n ".join(pieces)


def component(kind: bytes, properties: Iterable[Property], *, shared: bytes = b"") -> bytes:
    """A whole component (BEGIN to END); shared holds lines formatted once for many components."""
    lines = [content_line(name, value) for name, value in properties]
    return b"BEGIN:%b\r\n%b%bEND:%b\r\n" % (kind, b"\r\n".join([*lines, b""]), shared, kind)


def calendar_chunks(
    calendar: Sequence[Property], events: Iterable[Iterable[Property]], *, every_event: Sequence[Property] = ()
) -> Iterator[bytes]:
    """A VCALENDAR with these properties around these VEVENTs, yielded in chunks of about 64 KB.

    every_event: properties that all the events carry alike, formatted once.
    END:VCALENDAR is written last, so a stream cut short by an error is visibly
    incomplete to every client.
    """
    shared = b"".join(content_line(name, value) + CRLF for name, value in every_event)
    head = [b"BEGIN:VCALENDAR\r\n", *(content_line(name, value) + CRLF for name, value in calendar)]
    bodies = (component(b"VEVENT", event, shared=shared) for event in events)
    return in_chunks(itertools.chain(head, bodies, [b"END:VCALENDAR\r\n"]))
