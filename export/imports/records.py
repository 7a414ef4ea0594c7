"""What every reader hands the import: slot records, and the problems that reject a file."""
import hashlib
import json
import zoneinfo
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import NamedTuple, TypedDict
from uuid import UUID

# Slot.source_uid's length; a longer UID is remembered by its digest.
SOURCE_UID_LENGTH = 255
# A response lists at most this many problems or warnings, then says how many more there were.
MAX_NOTES = 100
# What a note repeats of a value it refuses: enough to find it in the file, never a whole hostile one.
QUOTED_CHARACTERS = 80
# Python's datetimes end at the years 1 and 9999; a day's margin each side leaves room for any
# zone's offset and an all-day slot's next midnight, in the import and in every export.
EARLIEST, LATEST = datetime(2, 1, 1, tzinfo=timezone.utc), datetime(9998, 12, 31, tzinfo=timezone.utc)
OUT_OF_RANGE = f"A date is out of range: slots start and end between the years {EARLIEST.year} and {LATEST.year}."


class ImportProblem(TypedDict):
    where: str  # "line 12" (iCalendar, CSV), "record 3" (JSON), or a parameter's name
    problem: str


class ImportWarning(TypedDict):
    where: str
    warning: str


class ImportRejected(Exception):
    """The file, or a parameter, cannot be imported; nothing was written.

    Not called ImportError: that would hide Python's own in every module that imports it.
    """

    def __init__(self, problems: list[ImportProblem]):
        super().__init__(f"{len(problems)} problem(s)")
        self.total = len(problems)
        self.problems = capped(problems, "problem")


class GroupRecord(NamedTuple):
    uuid: UUID
    name: str
    description: str


@dataclass(frozen=True)
class SlotRecord:
    """One event, row or record of a file, read and checked, not yet matched to a slot."""

    where: str
    # The identifier the file gives (iCalendar UID, JSON uuid); None for CSV rows and events without one.
    uid: str | None
    # What a new slot remembers as source_uid: the uid, or a digest of the record for formats without one.
    source_uid: str
    title: str
    description: str
    location: str
    start: datetime
    end: datetime | None
    all_day: bool
    visibility: str
    # The zone start and end were read in. When the file does not name one (zone_named False), it is
    # the import's default, and a slot being updated keeps its own zone instead.
    time_zone: str
    zone_named: bool
    # True when the file gave wall-clock times or dates (floating times, all-day dates, CSV), which
    # move with the zone they are read in; False for instants (UTC, TZID).
    wall_clock: bool
    groups: tuple[GroupRecord, ...] = ()
    # An occurrence of a repeating event: its series' key (source_uid_for of the series' UID), which a
    # newer import of the series uses to find the occurrences it no longer has. "" for anything else.
    source_series: str = ""

    def placed_in(self, zone: str) -> "SlotRecord":
        """The record as read in a slot's own zone, when the file did not name one."""
        if self.zone_named or zone == self.time_zone:
            return self
        if not self.wall_clock:
            return replace(self, time_zone=zone)
        old, new = zoneinfo.ZoneInfo(self.time_zone), zoneinfo.ZoneInfo(zone)

        def moved(moment: datetime | None) -> datetime | None:
            return None if moment is None else moment.astimezone(old).replace(tzinfo=new)

        return replace(self, time_zone=zone, start=moved(self.start), end=moved(self.end))


def source_uid_for(uid: str) -> str:
    """The uid itself, or its digest when it does not fit Slot.source_uid."""
    if len(uid) <= SOURCE_UID_LENGTH:
        return uid
    return "sha256:" + hashlib.sha256(uid.encode("utf-8", "surrogatepass")).hexdigest()


def occurrence_uid(uid: str, recurrence_id: str) -> str:
    """An occurrence's source_uid: its series' UID and its RECURRENCE-ID, or their digest when too long."""
    return source_uid_for(f"{uid};RECURRENCE-ID={recurrence_id}")


def content_key(prefix: str, parts: list[str], seen: Counter) -> str:
    """A record's key from its content, for formats without identifiers.

    The same content twice in one file (two identical slots, exported) gets ":2", ":3"...
    so that each is a slot of its own, and importing the file again still finds them all.
    """
    digest = hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8", "surrogatepass")).hexdigest()
    key = f"{prefix}:{digest}"
    seen[key] += 1
    return key if seen[key] == 1 else f"{key}:{seen[key]}"


def quoted(value) -> str:
    """The value as repr() writes it, cut to QUOTED_CHARACTERS with an ellipsis."""
    text = repr(value)
    return text if len(text) <= QUOTED_CHARACTERS else text[: QUOTED_CHARACTERS - 1] + "…"


def capped(notes: list[dict], kind: str) -> list[dict]:
    """At most MAX_NOTES notes, the last saying how many were left out, so a response stays small."""
    if len(notes) <= MAX_NOTES:
        return notes
    rest = len(notes) - MAX_NOTES + 1
    return [*notes[: MAX_NOTES - 1], {"where": "file", kind: f"... and {rest:,} more."}]


@dataclass(frozen=True)
class ReadContext:
    """What a reader needs to know besides the file."""

    # The zone for times the file does not place: the import's time_zone, else settings.TIME_ZONE.
    time_zone: str
    # Whether the importer named that zone (the time_zone parameter).
    zone_named: bool
    max_records: int
    # The moments a repeating event's occurrences are imported between, and the caps on them.
    recurrence: "RecurrenceWindow | None" = None

    def too_many(self) -> ImportRejected:
        return ImportRejected([{
            "where": "file",
            "problem": f"The file holds more than {self.max_records:,} records, the most one import takes.",
        }])


@dataclass(frozen=True)
class RecurrenceWindow:
    """Where an import puts a repeating event's occurrences: those that start from `start` until
    `end`, at most per_series of one series and max_slots slots in the whole file."""

    start: datetime
    end: datetime
    per_series: int
    max_slots: int

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


class SeriesSummary(TypedDict):
    """What an import made of one repeating event."""

    uid: str
    title: str
    where: str
    occurrences: int
    capped: bool


class Reading(NamedTuple):
    records: list[SlotRecord]
    warnings: list[ImportWarning]
    # The repeating events the file expanded; their keys (SlotRecord.source_series) are those whose
    # earlier occurrences in the window the import may remove.
    series: tuple[SeriesSummary, ...] = ()
    expanded: frozenset[str] = frozenset()
    # The calendar's name (X-WR-CALNAME), when it gives one: a ZIP's calendar's group.
    calendar_name: str | None = None
