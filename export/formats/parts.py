"""A calendar cut into parts that a calendar app's import takes whole, and those parts as one streamed ZIP.

Google Calendar imports files of about 1 MB at most: a part is a complete calendar (the same head, its own
END:VCALENDAR) of at most a budget of octets, cut only between events, the events in the calendar's order.
"""
import zipfile
from collections.abc import Iterable, Iterator

# Deflate at its fastest level: of 100,000 events' 46 MB of parts, 7.5 MB in 0.19 s, where level 6 gives
# 5.6 MB in 0.47 s and no compression 46 MB in 0.03 s; calendars repeat themselves, the network is slower.
COMPRESSION, COMPRESS_LEVEL = zipfile.ZIP_DEFLATED, 1


def calendar_parts(head: bytes, events: Iterable[bytes], tail: bytes, *, budget: int) -> Iterator[bytes]:
    """The calendar as parts of at most budget octets, each event in exactly one, in order.

    An event that does not fit in a part even alone cannot be cut: it becomes a part of its own, over
    the budget (the import may refuse that one part, the others still fit). A calendar with no event
    is one part with none, as the single file would be.
    """
    frame = len(head) + len(tail)
    part: list[bytes] = []
    filled = frame
    for event in events:
        if part and filled + len(event) > budget:
            yield b"".join([head, *part, tail])
            part, filled = [], frame
        part.append(event)
        filled += len(event)
    if part or filled == frame:
        yield b"".join([head, *part, tail])


def part_names(stem: str, extension: str) -> Iterator[str]:
    """Timeslot-Export-001.ics, -002.ics, ...: three digits, more once past 999, so names sort in order
    up to the thousandth part."""
    number = 0
    while True:
        number += 1
        yield f"{stem}-{number:03d}.{extension}"


class _Drain:
    """A file that zipfile writes to and this module empties: not seekable, so zipfile writes each
    member's sizes after its data (a data descriptor) instead of seeking back to its header."""

    def __init__(self):
        self.pending: list[bytes] = []

    def write(self, data) -> int:
        self.pending.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.pending = b"".join(self.pending), []
        return data


def zipped(files: Iterable[tuple[str, bytes]], *, compression: int = COMPRESSION) -> Iterator[bytes]:
    """A ZIP of these (name, content) files, yielded as it is written: one file's bytes held at a time."""
    drain = _Drain()
    with zipfile.ZipFile(drain, "w", compression=compression, compresslevel=COMPRESS_LEVEL) as archive:
        for name, content in files:
            archive.writestr(name, content)
            yield drain.take()
    # The central directory, written when the archive closes.
    yield drain.take()
