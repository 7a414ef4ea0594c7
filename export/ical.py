"""A streaming iCalendar (RFC 5545) writer: escape, format, fold, yield chunks.

It knows the format and nothing of slots: components arrive as sequences of
(name, value) properties, where a value is text, a date, an aware datetime
or a duration.
"""
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone

CRLF = b"\r\n"
# RFC 5545 §3.1: lines SHOULD NOT be longer than 75 octets, excluding the line break.
LINE_OCTETS = 75
# Chunks handed to the server: big enough to keep syscalls few, small enough to keep memory flat.
CHUNK_OCTETS = 64 * 1024

Value = str | date | datetime | timedelta
Property = tuple[str, Value]

# RFC 5545 §3.3.11: backslash, semicolon, comma and newline are escaped; other
# control characters (C0 but TAB, DEL, C1) cannot appear in TEXT and are dropped,
# so no value can start a property or a component of its own.
_TEXT_ESCAPES = {ord("\\"): "\\\\", ord(";"): "\\;", ord(","): "\\,", ord("\n"): "\\n", ord("\r"): "\\n"}
_TEXT_ESCAPES.update(
    {code: None for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if code not in _TEXT_ESCAPES and code != 0x09}
)
_NEEDS_ESCAPE = re.compile("[\\\\;,\x00-\x08\x0a-\x1f\x7f-\x9f]")


def escape_text(text: str) -> str:
    """The TEXT value of RFC 5545 §3.3.11 for this string."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    return text.replace("\r\n", "\n").translate(_TEXT_ESCAPES)


def format_duration(duration: timedelta) -> str:
    """A DURATION value (§3.3.6): P1D, PT1H30M, PT0S."""
    sign = "-" if duration < timedelta(0) else ""
    duration = abs(duration)
    hours, rest = divmod(duration.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    days = f"{duration.days}D" if duration.days else ""
    time = "".join(f"{amount}{unit}" for amount, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if amount)
    if not days and not time:
        time = "0S"
    return f"{sign}P{days}{'T' + time if time else ''}"


def format_property(name: str, value: Value) -> str:
    """One unfolded content line: datetimes in UTC (§3.3.5 form 2), dates as VALUE=DATE."""
    if isinstance(value, datetime):
        return f"{name}:{value.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"
    if isinstance(value, date):
        return f"{name};VALUE=DATE:{value:%Y%m%d}"
    if isinstance(value, timedelta):
        return f"{name}:{format_duration(value)}"
    return f"{name}:{escape_text(value)}"


def fold(line: str) -> bytes:
    """The line as UTF-8, folded at 75 octets without splitting a character (§3.1), ending in CRLF."""
    octets = line.encode("utf-8")
    if len(octets) <= LINE_OCTETS:
        return octets + CRLF
    pieces = []
    start, limit = 0, LINE_OCTETS
    while len(octets) - start > limit:
        end = start + limit
        # Step back over UTF-8 continuation bytes (10xxxxxx) to a character boundary.
        while octets[end] & 0xC0 == 0x80:
            end -= 1
        pieces.append(octets[start:end])
        # A continuation line starts with one space, which counts towards its 75 octets.
        start, limit = end, LINE_OCTETS - 1
    pieces.append(octets[start:])
    return b"\r\n ".join(pieces) + CRLF


def component(kind: str, properties: Iterable[Property]) -> bytes:
    """A whole component (BEGIN to END) as folded bytes."""
    lines = [f"BEGIN:{kind}\r\n".encode()]
    lines.extend(fold(format_property(name, value)) for name, value in properties)
    lines.append(f"END:{kind}\r\n".encode())
    return b"".join(lines)


def calendar_chunks(calendar: Sequence[Property], events: Iterable[Iterable[Property]]) -> Iterator[bytes]:
    """A VCALENDAR with these properties around these VEVENTs, yielded in chunks of about 64 KB.

    END:VCALENDAR is written last, so a stream cut short by an error is visibly
    incomplete to every client.
    """
    buffer = [b"BEGIN:VCALENDAR\r\n", *(fold(format_property(name, value)) for name, value in calendar)]
    size = sum(map(len, buffer))
    for event in events:
        text = component("VEVENT", event)
        buffer.append(text)
        size += len(text)
        if size >= CHUNK_OCTETS:
            yield b"".join(buffer)
            buffer, size = [], 0
    buffer.append(b"END:VCALENDAR\r\n")
    yield b"".join(buffer)
