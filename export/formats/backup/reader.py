"""The Timeslot JSON backup (docs/formats.md, "JSON") as slot records, every field checked strictly."""
import json
from collections.abc import Callable
from datetime import datetime, timezone
from uuid import UUID

from export.formats import bounded_json
from export.formats.backup.writer import FORMAT, VERSION
from export.formats.ical.zones import is_iana
from export.imports.records import (
    GroupRecord,
    ImportProblem,
    ImportRejected,
    ReadContext,
    Reading,
    SlotRecord,
    quoted,
)
from slots.models import Slot, SlotGroup

GROUP_NAME_LENGTH = SlotGroup._meta.get_field("name").max_length


class Unreadable(Exception):
    """A record that cannot become a slot; the message says why."""


def read_json(text: str, context: ReadContext) -> Reading:
    """The backup's slots as records; ImportRejected with every problem found."""
    try:
        document = bounded_json.loads(text)
    except json.JSONDecodeError as error:
        raise ImportRejected([{"where": f"line {error.lineno}", "problem": f"Not valid JSON: {error.msg}."}])
    except bounded_json.JSONOutOfBounds as error:
        raise ImportRejected([{"where": "file", "problem": f"Not a JSON backup this service reads: {error}."}])
    slots = backup_slots(document)
    if len(slots) > context.max_records:
        raise context.too_many()
    records: list[SlotRecord] = []
    problems: list[ImportProblem] = []
    for number, record in enumerate(slots, start=1):
        try:
            records.append(slot_record(record, f"record {number}"))
        except Unreadable as unreadable:
            problems.append({"where": f"record {number}", "problem": str(unreadable)})
    if problems:
        raise ImportRejected(problems)
    return Reading(records, [])


def backup_slots(document) -> list:
    """The "slots" list of a backup; ImportRejected if the document is not one this version writes."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        problem = f'Not a Timeslot backup: expected an object with "format": "{FORMAT}".'
    elif type(document.get("version")) is not int or document["version"] != VERSION:
        problem = f"Backup version {quoted(document.get('version'))} is not one this service reads ({VERSION})."
    elif not isinstance(document.get("slots"), list):
        problem = 'A backup\'s "slots" must be a list.'
    else:
        return document["slots"]
    raise ImportRejected([{"where": "file", "problem": problem}])


def slot_record(record, where: str) -> SlotRecord:
    if not isinstance(record, dict):
        raise Unreadable("A record must be an object.")
    field = Fields(record)
    uid = field("uuid", uuid_text)
    start = field("start", moment)
    end = field("end", optional(moment))
    if end is not None and end < start:
        raise Unreadable("end is before start.")
    visibility = field("visibility", text)
    if visibility not in Slot.Visibility.values:
        raise Unreadable(f"visibility must be one of {', '.join(Slot.Visibility.values)}, not {quoted(visibility)}.")
    time_zone = field("time_zone", text)
    if not is_iana(time_zone):
        raise Unreadable(f"time_zone {quoted(time_zone)} is not an IANA time zone.")
    groups = field("groups", list_of(group))
    return SlotRecord(
        where=where,
        uid=uid,
        source_uid=uid,
        title=field("title", text),
        description=field("description", text),
        location=field("location", text),
        start=start,
        end=end,
        all_day=field("all_day", boolean),
        visibility=visibility,
        time_zone=time_zone,
        zone_named=True,
        wall_clock=False,
        groups=tuple(groups),
    )


class Fields:
    """Reads a record's fields, each required, naming the one that is missing or of the wrong type."""

    def __init__(self, record: dict, prefix: str = ""):
        self.record, self.prefix = record, prefix

    def __call__(self, name: str, read: Callable):
        if name not in self.record:
            raise Unreadable(f"{self.prefix}{name} is missing.")
        try:
            return read(self.record[name])
        except (TypeError, ValueError) as error:
            raise Unreadable(f"{self.prefix}{name} {error}")


def text(value) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string.")
    try:
        # JSON's \ud800 escapes decode to lone surrogates, which no database can store as UTF-8.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds an unpaired surrogate (\\ud800-\\udfff).")
    # \u0000 is dropped as the service drops NUL from every file (service.decoded).
    return value.replace("\x00", "")


def boolean(value) -> bool:
    if not isinstance(value, bool):
        raise TypeError("must be true or false.")
    return value


def uuid_text(value) -> str:
    try:
        return str(UUID(text(value)))
    except ValueError:
        raise ValueError(f"must be a uuid, not {quoted(value)}.")


def moment(value) -> datetime:
    """An ISO 8601 date-time with its offset (the backup writes UTC with Z), as UTC."""
    try:
        parsed = datetime.fromisoformat(text(value))
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date-time, not {quoted(value)}.")
    if parsed.tzinfo is None:
        raise ValueError(f"must carry its offset (Z for UTC), not {quoted(value)}.")
    try:
        return parsed.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"is out of range: {quoted(value)}.")


def optional(read: Callable) -> Callable:
    return lambda value: None if value is None else read(value)


def list_of(read: Callable) -> Callable:
    def read_list(values) -> list:
        if not isinstance(values, list):
            raise TypeError("must be a list.")
        return [read(value) for value in values]

    return read_list


def group(value) -> GroupRecord:
    if not isinstance(value, dict):
        raise TypeError("must hold objects with uuid, name and description.")
    field = Fields(value, prefix="a group's ")
    name = field("name", text)
    if not name.strip() or len(name) > GROUP_NAME_LENGTH:
        raise Unreadable(f"a group's name must be 1 to {GROUP_NAME_LENGTH} characters.")
    return GroupRecord(UUID(field("uuid", uuid_text)), name, field("description", text))
