"""An iCalendar file as its content lines, read from its file a line at a time: never the whole text at once.

RFC 5545 §3.1: lines end in CRLF (LF from some tools); one that starts with a space or a tab continues
the line before. The reader goes over a file twice (survey.py, then reader.py), so a source is read
again from its start each time.
"""
import codecs
import io
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from icalendar.parser.content_line import Contentline

from export.imports.records import ImportRejected
from export.progress import UNWATCHED, Progress

FOLD_STARTS = (" ", "\t")
NOT_UTF8 = "The file is not UTF-8 text; save it as UTF-8."
# How often a pass tells its progress: a call a line would cost more than the line.
PROGRESS_BYTES = 256 * 1024


class CalendarSource:
    """Where a calendar's bytes are: a file (an upload, a ZIP's member spooled to disk) or a text; each pass
    over it a stage of progress, named after the pass and the calendar's name."""

    def __init__(self, source: str | bytes | BinaryIO, *, progress: Progress = UNWATCHED, name: str = ""):
        # A text is read as its UTF-8 bytes would be: one decoding, one handling of a byte-order mark and NULs.
        if isinstance(source, str):
            source = source.encode("utf-8", "surrogatepass")
        if isinstance(source, bytes):
            source = io.BytesIO(source)
        self.source, self.progress, self.name = source, progress, name

    def physical_lines(self, stage: str) -> Iterator[str]:
        """The file's lines without their line breaks, decoded, without a byte-order mark or NUL characters
        (no text format gives them a meaning, and PostgreSQL stores none)."""
        size = self.source.seek(0, io.SEEK_END)
        self.source.seek(0)
        self.progress.stage(f"{stage} {self.name}".strip(), size, "bytes")
        done, shown = 0, PROGRESS_BYTES
        for number, raw in enumerate(self.source, start=1):
            done += len(raw)
            if done >= shown:
                self.progress.advance(done)
                shown = done + PROGRESS_BYTES
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ImportRejected([{"where": f"line {number}", "problem": NOT_UTF8}])
            if line.endswith("\n"):
                line = line[:-2] if line.endswith("\r\n") else line[:-1]
            yield line.replace("\x00", "") if "\x00" in line else line
        self.progress.advance(done)

    def logical_lines(self, stage: str) -> Iterator[tuple[int, str]]:
        """(number of the line it begins on, unfolded content line), for every content line; the pass is
        the stage of progress named stage."""
        return unfolded(self.physical_lines(stage))


def unfolded(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """The logical lines of physical lines."""
    # A line's pieces are joined once it is complete: adding each fold to the line built so far
    # would copy that line again for every fold, a time that grows with the square of its length.
    start, pieces = 0, []
    for number, line in enumerate(lines, start=1):
        if line.startswith(FOLD_STARTS) and pieces:
            pieces.append(line[1:])
        elif line:
            if pieces:
                yield start, "".join(pieces)
            start, pieces = number, [line]
    if pieces:
        yield start, "".join(pieces)


def boundary(line: str) -> tuple[str, str] | None:
    """("BEGIN", "VEVENT") and the like, for a BEGIN or END line, read as icalendar reads it."""
    if not line[:5].upper().startswith(("BEGIN", "END")):
        return None
    name, _, value = line.partition(":")
    if name.upper() in ("BEGIN", "END"):
        # The plain form, which is nearly every one, without icalendar's slower full parse.
        return name.upper(), value.upper()
    try:
        name, _, value = Contentline(line).parts()
    except ValueError:
        return None
    return name.upper(), value.upper()


def property_name(line: str) -> str:
    """A content line's property name, upper case, as far as its first ";" or ":"."""
    end = len(line)
    for mark in (";", ":"):
        found = line.find(mark, 0, end)
        if found >= 0:
            end = found
    return line[:end].upper()


def raw_value(line: str) -> str | None:
    """A content line's value as written, escapes and all: after the first ":" outside a quoted parameter."""
    quoted = False
    for index, character in enumerate(line):
        if character == '"':
            quoted = not quoted
        elif character == ":" and not quoted:
            return line[index + 1:]
    return None


def property_value(line: str) -> str | None:
    """A content line's value as icalendar's parser splits it off (a quoted parameter may hold a ":", and some
    escapes are undone); None when it cannot be split."""
    try:
        return Contentline(line).parts()[2]
    except ValueError:
        return None
