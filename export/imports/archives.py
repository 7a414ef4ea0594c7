"""A ZIP of calendars, as Google Calendar exports them (one .ics a calendar), read within bounds.

Everything that can refuse a ZIP is read from its central directory before a byte is expanded:
how many calendars, how they are stored, what they declare to expand to. Then each calendar is
expanded by a read of at most what is left of the import's bytes plus one, so that a header that
lies about a size costs no more than one that tells the truth (docs/formats.md, "A ZIP of calendars").
"""
import io
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from export.imports.records import ImportProblem, ImportRejected, ImportWarning, ReadContext

# A ZIP begins with its first member's local header, or, when it holds nothing, with its end record.
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Google exports one file a calendar; a hundred is more calendars than anyone subscribes to.
MAX_CALENDARS = 100
# Files of any kind (folders, resource forks, what is left out): zipfile builds an object for each of
# the directory's entries, 60,000 in a 5 MB upload of empty ones, so their count is read first.
MAX_MEMBERS = 1000
# The end of central directory record (APPNOTE.TXT 4.3.16): 22 bytes, then a comment of up to 65,535;
# its total of entries is at offset 10, and 0xFFFF says that the ZIP64 record holds it.
END_RECORD, END_RECORD_SIZE, MAX_COMMENT, ZIP64_COUNT = b"PK\x05\x06", 22, 0xFFFF, 0xFFFF
# Calendar text compresses to a fifth or a tenth of its size; deflate can reach 1,000:1 only on
# runs of the same bytes, which is what a ZIP bomb is made of.
MAX_RATIO = 100
# Stored and deflated are what Google and every archiver write. zipfile's bzip2 and LZMA decompress
# a whole block whatever a read asks for, so a read's size would not bound them.
COMPRESSIONS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})
# A member is expanded this much at a time: what one decompression may hold in memory.
READ_CHUNK = 64 * 1024
# Bit 0 of a member's flags: encrypted (APPNOTE.TXT 4.4.4).
ENCRYPTED = 0x1
# What a message repeats of a member's name: enough to find it, never a whole hostile one.
NAME_CHARACTERS = 120
DAMAGED = "The ZIP is damaged and cannot be read"


@dataclass(frozen=True)
class Member:
    """A calendar of the ZIP: its path in the ZIP, and its bytes, expanded into a temporary file."""

    name: str
    file: BinaryIO

    @property
    def label(self) -> str:
        """The member as messages name it: "work@example.com.ics line 12"."""
        return label(self.name)

    @property
    def stem(self) -> str:
        """The file name without its folders and without .ics: the group of a calendar that names none."""
        return PurePosixPath(self.name).name[: -len(".ics")]

    def placed(self, notes: list[dict]) -> list[dict]:
        """The reader's problems or warnings ("line 12", "file") as this member's ("work.ics line 12")."""
        return [{**note, "where": self.label if note["where"] == "file" else f"{self.label} {note['where']}"}
                for note in notes]


class ArchiveTooLarge(Exception):
    """The ZIP's calendars expand to more than an import takes (413, like a file too large)."""

    def __init__(self, limit: int, where: str, expanded: int):
        super().__init__(
            f"The ZIP's calendars expand to more than {limit:,} bytes, the most an import takes ({where})."
        )
        # How many bytes were expanded before the refusal: none when the directory told.
        self.expanded = expanded


class ArchiveDamaged(ImportRejected):
    """A member's data do not match its header (a size or a CRC that lies); nothing was written."""

    def __init__(self, problems: list[ImportProblem], expanded: int):
        super().__init__(problems)
        self.expanded = expanded


@dataclass(frozen=True)
class MemberContext(ReadContext):
    """A calendar's reading context: max_records is what the ZIP's earlier calendars left of the import's."""

    import_max_records: int = 0

    def too_many(self) -> ImportRejected:
        return ImportRejected([{
            "where": "file",
            "problem": f"The ZIP's calendars hold more than {self.import_max_records:,} records, the most one "
            "import takes.",
        }])


def is_zip(head: bytes) -> bool:
    """A ZIP by its magic bytes, whatever the file is called."""
    return head.startswith(ZIP_MAGIC)


def label(name: str) -> str:
    return name if len(name) <= NAME_CHARACTERS else name[: NAME_CHARACTERS - 1] + "…"


def read_calendars(source: BinaryIO, limit: int) -> tuple[list[Member], list[ImportWarning]]:
    """The ZIP's calendars (its .ics members, in the ZIP's order) and warnings for what it holds besides.

    ImportRejected for a ZIP that cannot be read, holds no calendar or too many, or one that is
    encrypted, compressed other than by deflate, or more than MAX_RATIO times smaller than it
    declares; ArchiveTooLarge when the calendars expand to more than limit bytes in all.
    """
    check_member_count(declared_members(source))
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as error:
        raise ImportRejected([{"where": "file", "problem": f"{DAMAGED} ({reason(error)})."}])
    with archive:
        # The end record may lie about its count, or be misread (a comment holding its signature):
        # zipfile reads the directory by its size, and its count rules.
        check_member_count(len(archive.infolist()))
        calendars, warnings = chosen(archive.infolist())
        check_directory(calendars, limit)
        return read_members(archive, calendars, limit), warnings


def declared_members(source: BinaryIO) -> int | None:
    """How many entries the ZIP's end record declares, read without parsing its directory; None when it
    cannot tell (no end record found, or a ZIP64 one), and zipfile's count must do."""
    size = source.seek(0, io.SEEK_END)
    # Without a comment, which archivers do not write, the record is the last 22 bytes.
    source.seek(max(0, size - END_RECORD_SIZE))
    tail = source.read()
    if not tail.startswith(END_RECORD):
        source.seek(max(0, size - END_RECORD_SIZE - MAX_COMMENT))
        tail = source.read()
    start = tail.rfind(END_RECORD)
    source.seek(0)
    if start < 0 or len(tail) - start < END_RECORD_SIZE:
        return None
    (total,) = struct.unpack_from("<H", tail, start + 10)
    return None if total == ZIP64_COUNT else total


def check_member_count(count: int | None) -> None:
    if count is not None and count > MAX_MEMBERS:
        raise ImportRejected([{
            "where": "file",
            "problem": f"The ZIP holds {count:,} files; an import takes at most {MAX_MEMBERS:,} (and "
            f"{MAX_CALENDARS} calendars).",
        }])


def chosen(infos: list[zipfile.ZipInfo]) -> tuple[list[zipfile.ZipInfo], list[ImportWarning]]:
    """The .ics members, in any folder (Google Takeout puts them in Takeout/Calendar/), and a warning for
    every other file. Folders, macOS's __MACOSX/ resource forks and dot files are left out silently:
    archivers add them, nobody put them there."""
    calendars, warnings = [], []
    for info in infos:
        path = PurePosixPath(info.filename)
        if info.is_dir() or path.parts[:1] == ("__MACOSX",) or any(part.startswith(".") for part in path.parts):
            continue
        if not path.name.lower().endswith(".ics"):
            warnings.append({"where": label(info.filename), "warning": "Not a calendar (.ics); left out."})
            continue
        calendars.append(info)
    return calendars, warnings


def check_directory(calendars: list[zipfile.ZipInfo], limit: int) -> None:
    """Every refusal the central directory can tell, before anything is expanded."""
    if not calendars:
        raise ImportRejected([{"where": "file", "problem": "The ZIP holds no calendar (.ics file)."}])
    if len(calendars) > MAX_CALENDARS:
        raise ImportRejected([{
            "where": "file",
            "problem": f"The ZIP holds {len(calendars):,} calendars (.ics files); an import takes at most "
            f"{MAX_CALENDARS}.",
        }])
    problems: list[ImportProblem] = []
    seen: set[str] = set()
    declared = 0
    for info in calendars:
        where = label(info.filename)
        problem = member_problem(info, seen)
        if problem:
            problems.append({"where": where, "problem": problem})
            continue
        declared += info.file_size
        if declared > limit:
            raise ArchiveTooLarge(limit, where, expanded=0)
    if problems:
        raise ImportRejected(problems)


def member_problem(info: zipfile.ZipInfo, seen: set[str]) -> str | None:
    """Why the directory entry of a calendar refuses the ZIP, if it does."""
    if info.filename in seen:
        return "The ZIP holds two files of this name."
    seen.add(info.filename)
    if info.flag_bits & ENCRYPTED:
        return "The file is encrypted; export the calendars again without a password."
    if info.compress_type not in COMPRESSIONS:
        return (f"The file is compressed with method {info.compress_type}; an import takes calendars stored or "
                "deflated (what Google Calendar and every archiver write).")
    if info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return (f"The file declares {info.file_size:,} bytes from {info.compress_size:,}: more than "
                f"{MAX_RATIO}:1, which no calendar compresses to.")
    return None


def read_members(archive: zipfile.ZipFile, calendars: list[zipfile.ZipInfo], limit: int) -> list[Member]:
    members: list[Member] = []
    left = limit
    try:
        for info in calendars:
            file = expanded(archive, info, left, limit)
            left -= file.tell()
            members.append(Member(info.filename, file))
    except Exception:
        for member in members:
            member.file.close()
        raise
    return members


def expanded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, left: int, limit: int) -> BinaryIO:
    """The member's bytes in a temporary file, expanded no further than one byte past what is left of the
    import's.

    The header's size is not trusted to stop the expansion: the read is bounded by left, so a member
    that expands to more than it declared is stopped all the same.
    """
    where = label(info.filename)
    file = tempfile.TemporaryFile()
    size = 0
    try:
        with archive.open(info) as stream:
            while size <= left:
                chunk = stream.read(min(READ_CHUNK, left + 1 - size))
                if not chunk:
                    break
                file.write(chunk)
                size += len(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError) as error:
        file.close()
        raise ArchiveDamaged([{"where": where, "problem": f"{DAMAGED} ({reason(error)})."}], expanded=size)
    if size > left:
        file.close()
        raise ArchiveTooLarge(limit, where, expanded=size)
    return file


def reason(error: Exception) -> str:
    """What zipfile or zlib said, short: their messages are fixed text, but may quote a member's name."""
    text = str(error) or type(error).__name__
    return label(text.rstrip("."))
