"""A streaming iCalendar (RFC 5545) writer: escape, format, fold, yield chunks.

It knows the format and nothing of slots. A calendar's own properties arrive
as (name, value) pairs, where a value is text, a date, an aware datetime or a
duration. Its events, written by the hundred thousand, go through a
ComponentWriter: their lines are laid out once, from the properties' names and
value types, and each event only fills in its values. It works on UTF-8 bytes
throughout, because folding counts octets and because bytes operations run at
C speed: an export is a loop over hundreds of thousands of events
(docs/performance.md).
"""
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone

from export.formats.chunks import in_chunks

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
# U+2028 and U+2029 are no controls but break lines for Python's str.splitlines(),
# which vdirsyncer splits a calendar with: they become \n too (\xe2\x80\xa8-\xa9).
_NEEDS_ESCAPING = re.compile("[\\\\;,\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_C0_AND_DEL = bytes([*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F])
_C1 = re.compile(b"\xc2[\x80-\x9f]")
_LINE_AND_PARAGRAPH_SEPARATORS = re.compile(b"\xe2\x80[\xa8\xa9]")


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
    if b"\xe2\x80" in octets:
        octets = _LINE_AND_PARAGRAPH_SEPARATORS.sub(b"\n", octets)
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


def time_value(value: datetime | date) -> bytes:
    """What follows the name of a DATE-TIME or DATE property: a UTC date-time (§3.3.5) or a date (§3.3.4)."""
    if isinstance(value, datetime):
        return b":" + format_datetime(value)
    return b";VALUE=DATE:%04d%02d%02d" % (value.year, value.month, value.day)


def text_line(prefix: bytes, text: str) -> bytes:
    """A TEXT property's line: the prefix (its name and ":") and the escaped text, folded if it is too long."""
    line = prefix + escape_text(text)
    # Only text can outgrow a line.
    return line if len(line) <= LINE_OCTETS else fold(line)


def content_line(name: str, value: Value) -> bytes:
    """One property as a content line, folded, without its final line break."""
    if isinstance(value, str):
        return text_line(name.encode() + b":", value)
    if isinstance(value, date):
        return name.encode() + time_value(value)
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


# The value types (§3.3) a ComponentWriter's properties can have. DATE-TIME
# also takes a date, written as a DATE, for the events that last whole days.
TEXT, DATE_TIME, DURATION = "TEXT", "DATE-TIME", "DURATION"

# A property's line for one value, CRLF included; b"" for None, which leaves the line out.
LineWriter = Callable[[Value | None], bytes]


def line_writer(name: str, value_type: str) -> LineWriter:
    """The writer of one property's lines, its name and the rest encoded once.

    A DATE-TIME's value may also be a str: a UTC DATE-TIME that the database
    wrote (export/formats/sql_text.py), taken as it is; a DURATION's, what follows
    its name as written (";X-PARAM=A:PT0S"), for a duration with parameters. The
    common cases are spelt out here, not left to content_line(): this runs for
    every property of every event.
    """
    prefix = name.encode()
    if value_type == TEXT:
        prefix += b":"

        def text(value: str | None) -> bytes:
            if value is None:
                return b""
            line = prefix + escape_text(value)
            return (line if len(line) <= LINE_OCTETS else fold(line)) + CRLF

        return text
    if value_type == DATE_TIME:
        with_colon = prefix + b":"

        def time(value: datetime | date | str | None) -> bytes:
            if value is None:
                return b""
            if type(value) is str:
                return with_colon + value.encode() + CRLF
            return prefix + time_value(value) + CRLF

        return time
    if value_type == DURATION:
        with_colon = prefix + b":"

        def duration(value: timedelta | str | None) -> bytes:
            if value is None:
                return b""
            if type(value) is str:
                return prefix + value.encode() + CRLF
            return with_colon + format_duration(value) + CRLF

        return duration
    raise ValueError(f"{name}: no value type {value_type!r}")


class ComponentWriter:
    """Writes many components of one kind, each from its values alone.

    layout: (property name, value type) in the order they are written; a
    component is then the sequence of its values in that order, None leaving a
    line out. shared: properties that every component carries alike, formatted
    once, written after the others.
    """

    def __init__(self, kind: str, layout: Sequence[tuple[str, str]], *, shared: Sequence[Property] = ()):
        self.begin = b"BEGIN:%s\r\n" % kind.encode()
        self.lines = [line_writer(name, value_type) for name, value_type in layout]
        shared_lines = [content_line(name, value) + CRLF for name, value in shared]
        self.end = b"".join([*shared_lines, b"END:%s\r\n" % kind.encode()])

    def __call__(self, values: Sequence[Value | None]) -> bytes:
        # map() hands each value to its property's writer without a loop in Python.
        return b"".join([self.begin, *map(operator.call, self.lines, values), self.end])


# END:VCALENDAR is written last, so a stream cut short by an error is visibly incomplete to every client.
CALENDAR_TAIL = b"END:VCALENDAR\r\n"


def calendar_head(calendar: Sequence[Property]) -> bytes:
    """BEGIN:VCALENDAR and the calendar's own properties: what comes before its components."""
    return b"".join([b"BEGIN:VCALENDAR\r\n", *(content_line(name, value) + CRLF for name, value in calendar)])


def calendar_chunks(calendar: Sequence[Property], components: Iterable[bytes]) -> Iterator[bytes]:
    """A VCALENDAR with these properties around these written components, yielded in chunks of about 64 KB."""
    return in_chunks(itertools.chain([calendar_head(calendar)], components, [CALENDAR_TAIL]))
