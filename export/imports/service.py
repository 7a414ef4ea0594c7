"""An import, whatever the file: read and check every record, then write them all in one transaction.

The API view and the import_slots command are thin shells around import_slots(). An iCalendar file
is read from its file a line at a time, its records kept on disk until they are written
(export/imports/spool.py): what an import holds does not grow with the file.
"""
import hashlib
import io
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO
from uuid import UUID

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from export.feed_versions import slots_changed
from export.formats.backup.reader import read_json
from export.formats.ical.lines import NOT_UTF8, CalendarSource
from export.formats.ical.reader import read_ical
from export.formats.ical.series import recurrence_window
from export.formats.ical.zone_rules import ZoneWork
from export.formats.ical.zones import is_iana
from export.formats.outlook.reader import read_csv
from export.imports.archives import Member, MemberContext, is_zip, read_calendars
from export.imports.detect import detect
from export.imports.records import (
    GroupRecord,
    ImportProblem,
    ImportRejected,
    ImportWarning,
    ReadContext,
    Reading,
    RecurrenceWindow,
    SeriesSummary,
    SlotRecord,
    capped,
    quoted,
)
from export.imports.spool import RecordSpool
from export.models import SlotChangeClock
from export.progress import UNWATCHED, Progress
from slots.models import Slot, SlotGroup
from slots.selectors import group_visible_to, groups_visible_to
from timeslot.db import write_transaction

READERS = {"ical": read_ical, "csv": read_csv, "json": read_json}
# The group imported slots go to when the import names none.
IMPORTS_GROUP = "Imports"
# What an import sets on a slot; everything else (uuid, creator, created_at) is the slot's own.
SLOT_FIELDS = ("title", "description", "location", "start", "end", "all_day", "time_zone", "visibility")
# What tells a file's format: its first line (detect.py), or a ZIP's magic bytes.
HEAD_BYTES = 64 * 1024
# Rows looked up per query: far below SQLite's limit on the number of query parameters.
LOOKUP_BATCH = 1000
GROUP_NAME_LENGTH = SlotGroup._meta.get_field("name").max_length
GROUP_WITH_ZIP = "A ZIP's calendars go to groups named after them; group is not taken with a ZIP."
NOT_ICALENDAR = "Not an iCalendar file (BEGIN:VCALENDAR): a ZIP's .ics files are calendars."


@dataclass(frozen=True)
class CalendarResult:
    """One calendar of a ZIP: the group its slots went to, and what became of them."""

    file: str
    group: SlotGroup
    new_group: bool
    created: int
    updated: int
    unchanged: int
    removed: int


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int
    warnings: list[ImportWarning]
    # The window and caps a repeating event's occurrences were imported with.
    window: RecurrenceWindow
    # Occurrences of the file's series, imported before in the window, that the series no longer has.
    removed: int = 0
    # What each repeating event of the file made.
    series: tuple[SeriesSummary, ...] = ()
    # A ZIP's calendars, in the ZIP's order; None for a single file.
    calendars: list[CalendarResult] | None = None

    def recurrence(self) -> dict:
        """The window and caps as the answer shows them."""
        return {
            "from": self.window.start.isoformat().replace("+00:00", "Z"),
            "until": self.window.end.isoformat().replace("+00:00", "Z"),
            "max_occurrences_per_series": self.window.per_series,
            "max_occurrences": self.window.max_slots,
        }


class FileTooLarge(Exception):
    def __init__(self, limit: int, what: str = ""):
        super().__init__(f"The file is larger than {limit:,} bytes, the most an import takes{what}.")


class ImportConflict(Exception):
    """Another import wrote the same slots at the same moment; nothing of this one was written."""

    def __init__(self):
        super().__init__("Another import changed the same slots at the same moment; nothing was imported.")


def import_slots(
    *, user: AbstractBaseUser, data: bytes | BinaryIO, group: UUID | None = None, time_zone: str | None = None,
    progress: Progress = UNWATCHED,
) -> ImportResult:
    """Import a file's slots for the user, all or nothing; a ZIP (its magic bytes tell) is a calendar a member.

    data is the file's bytes, or the file itself (an upload, opened for reading in binary). ImportRejected
    lists the problems of a file (or of time_zone); SlotGroup.DoesNotExist is a group the user neither owns
    nor belongs to; FileTooLarge, ArchiveTooLarge (a ZIP's calendars expand to more than IMPORT_MAX_BYTES)
    and ImportConflict say what they are. progress is told each pass over an iCalendar file and the writing.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    size = stream.seek(0, io.SEEK_END)
    if size > settings.IMPORT_MAX_BYTES:
        raise FileTooLarge(settings.IMPORT_MAX_BYTES)
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    if is_zip(head):
        if group is not None:
            raise ImportRejected([{"where": "group", "problem": GROUP_WITH_ZIP}])
        members, warnings = read_calendars(stream, settings.IMPORT_MAX_BYTES)
        try:
            return import_calendars(
                user=user, members=members, time_zone=time_zone, warnings=warnings, progress=progress
            )
        finally:
            for member in members:
                member.file.close()
    context = read_context(time_zone)
    target = group_visible_to(user=user, uuid=group) if group is not None else None
    file_format = detect(head.decode("utf-8", "ignore"))
    spool = RecordSpool()
    try:
        reading = read_records(readable(stream, size, file_format, progress), file_format, context, spool)
        warnings = reading.warnings
        created = updated = removed = 0
        if not spool and not reading.series:
            warnings.append({"where": "file", "warning": "The file holds no events."})
        if spool or reading.expanded:
            try:
                with write_transaction():
                    if spool:
                        # A backup brings its slots' own groups: also filing them under "Imports"
                        # would restore something other than what was backed up (the backup's round trip).
                        new_to_imports = target is None and file_format != "json"
                        created, updated = write_all(
                            user, spool, target, new_to_imports=new_to_imports, progress=progress
                        )
                    removed = remove_gone_occurrences(user, spool.occurrences, reading.expanded, context.recurrence)
            except IntegrityError:
                # Two imports of the same file at once both create the slot of one UID; the
                # constraint on source_uid stops the second, whose changes are rolled back.
                raise ImportConflict()
        return ImportResult(
            created, updated, len(spool) - created - updated, capped(warnings, "warning"), context.recurrence,
            removed, reading.series,
        )
    finally:
        spool.close()


def readable(stream: BinaryIO, size: int, file_format: str, progress: Progress) -> CalendarSource | str:
    """What a reader reads: an iCalendar file from its file, a line at a time; a CSV or JSON file as its text,
    which they read whole, within IMPORT_MAX_CSV_JSON_BYTES."""
    if file_format == "ical":
        return CalendarSource(stream, progress=progress)
    if size > settings.IMPORT_MAX_CSV_JSON_BYTES:
        raise FileTooLarge(settings.IMPORT_MAX_CSV_JSON_BYTES, " of a CSV or JSON file")
    return decoded(stream.read())


def read_records(
    source: CalendarSource | str, file_format: str, context: ReadContext, spool: RecordSpool,
    work: ZoneWork | None = None,
) -> Reading:
    """A file's reading, its records each checked and spooled; ImportRejected with its problems.

    work is the zone work an iCalendar file may spend: a ZIP's calendars share one import's.
    """
    if file_format == "ical":
        reading = read_ical(source, context, work, records=spool)
    else:
        reading = READERS[file_format](source, context)
        spool.extend(reading.records)
    spool.check()
    # A series' occurrences share its line: a title cut is said once for all of them.
    warnings = [*reading.warnings, *spool.warnings]
    warnings = list({(warning["where"], warning["warning"]): warning for warning in warnings}.values())
    return reading._replace(records=spool, warnings=warnings)


def import_calendars(
    *, user: AbstractBaseUser, members: list[Member], time_zone: str | None, warnings: list[ImportWarning],
    progress: Progress = UNWATCHED,
) -> ImportResult:
    """A ZIP's calendars, each into the user's own group named after it (X-WR-CALNAME, else the file's
    name), all in one transaction: one calendar refused, and nothing of any is written.

    Every calendar is read before anything is written, with one import's records and zone work
    among them all, and every problem of every calendar is reported at once.
    """
    base = read_context(time_zone)
    work = ZoneWork()
    problems: list[ImportProblem] = []
    readings: list[tuple[Member, str, Reading]] = []
    total = 0
    try:
        for member in members:
            context = MemberContext(
                **{**vars(base), "max_records": base.max_records - total}, import_max_records=base.max_records
            )
            spool = RecordSpool()
            try:
                member.file.seek(0)
                if detect(member.file.read(HEAD_BYTES).decode("utf-8", "ignore")) != "ical":
                    raise ImportRejected([{"where": "file", "problem": NOT_ICALENDAR}])
                calendar = CalendarSource(member.file, progress=progress, name=member.label)
                reading = read_records(calendar, "ical", context, spool, work)
            except ImportRejected as rejected:
                spool.close()
                problems += member.placed(rejected.problems)
                continue
            total += len(spool)
            warnings += member.placed(reading.warnings)
            if not spool and not reading.series:
                warnings.append({"where": member.label, "warning": "The calendar holds no events."})
            readings.append((member, group_name(member, reading.calendar_name, warnings), reading))
        problems += differing_twins(readings)
        if problems:
            raise ImportRejected(problems)
        return write_calendars(user, readings, base, warnings, progress)
    finally:
        for _, _, reading in readings:
            reading.records.close()


def write_calendars(
    user: AbstractBaseUser, readings: list[tuple[Member, str, Reading]], base: ReadContext,
    warnings: list[ImportWarning], progress: Progress,
) -> ImportResult:
    calendars: list[CalendarResult] = []
    series: list[SeriesSummary] = []
    try:
        with write_transaction():
            for member, name, reading in readings:
                group, new_group = own_group_named(user, name)
                spool = reading.records
                try:
                    created, updated = (
                        write_all(user, spool, group, progress=progress, name=member.label) if spool else (0, 0)
                    )
                except ImportRejected as rejected:
                    raise ImportRejected(member.placed(rejected.problems))
                removed = remove_gone_occurrences(user, spool.occurrences, reading.expanded, base.recurrence)
                unchanged = len(spool) - created - updated
                calendars.append(
                    CalendarResult(member.label, group, new_group, created, updated, unchanged, removed)
                )
                series += member.placed(list(reading.series))
    except IntegrityError:
        raise ImportConflict()
    return ImportResult(
        created=sum(calendar.created for calendar in calendars),
        updated=sum(calendar.updated for calendar in calendars),
        unchanged=sum(calendar.unchanged for calendar in calendars),
        warnings=capped(warnings, "warning"),
        window=base.recurrence,
        removed=sum(calendar.removed for calendar in calendars),
        series=tuple(series),
        calendars=calendars,
    )


def group_name(member: Member, calendar_name: str | None, warnings: list[ImportWarning]) -> str:
    """The calendar's X-WR-CALNAME, else the member's file name without .ics, cut to fit a group's name."""
    name = calendar_name or member.stem
    if len(name) > GROUP_NAME_LENGTH:
        name = name[:GROUP_NAME_LENGTH]
        warnings.append({"where": member.label, "warning": f"The calendar's name was cut to {GROUP_NAME_LENGTH} "
                         "characters for its group."})
    return name


def differing_twins(readings: list[tuple[Member, str, Reading]]) -> list[ImportProblem]:
    """An event in two calendars (one UID) is one slot in both groups, if both say the same of it: two
    versions of one slot, and the ZIP does not say which is right."""
    first: dict[str, tuple[str, bytes]] = {}
    problems: list[ImportProblem] = []
    for member, _, reading in readings:
        for record in reading.records:
            where = f"{member.label} {record.where}"
            # A digest of the values, not the values: a ZIP's records are on disk, not held.
            values = hashlib.sha256(pickle.dumps(slot_values(record))).digest()
            earlier, first_values = first.setdefault(record.source_uid, (where, values))
            if earlier != where and first_values != values:
                problems.append({"where": where, "problem": f"Has the same UID as {earlier}, with other details."})
    return problems


def own_group_named(user: AbstractBaseUser, name: str) -> tuple[SlotGroup, bool]:
    """The user's own group of this name (the oldest), else a new one; and whether it is new.

    Only a group the user owns: one of another user's that the user belongs to is not the calendar's.
    """
    group = SlotGroup.objects.filter(owner=user, name=name).order_by("pk").first()
    if group is not None:
        return group, False
    return SlotGroup.objects.create(owner=user, name=name), True


def read_context(time_zone: str | None) -> ReadContext:
    if time_zone is not None and not is_iana(time_zone):
        raise ImportRejected([{"where": "time_zone", "problem": f"{quoted(time_zone)} is not an IANA time zone."}])
    return ReadContext(
        time_zone=time_zone or settings.TIME_ZONE,
        zone_named=time_zone is not None,
        max_records=settings.IMPORT_MAX_RECORDS,
        recurrence=recurrence_window(),
    )


def decoded(data: bytes) -> str:
    """The file as text, without its byte-order mark, and without NUL characters: no text
    format gives them a meaning, and PostgreSQL stores none (an export from SQLite may hold some)."""
    try:
        return data.decode("utf-8-sig").replace("\x00", "")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportRejected([{"where": f"line {line}", "problem": NOT_UTF8}])


def write_all(
    user: AbstractBaseUser, spool: RecordSpool, group: SlotGroup | None, *, new_to_imports: bool = False,
    progress: Progress = UNWATCHED, name: str = "",
) -> tuple[int, int]:
    """write() of the spool's records, a batch at a time, each told to progress; (created, updated)."""
    created = updated = written = 0
    claimed: dict[int, str] = {}
    progress.stage(f"Writing {name}".strip(), len(spool), "slots")
    for records in spool.batches():
        made, changed = write(user, records, group, new_to_imports=new_to_imports, claimed=claimed)
        created, updated, written = created + made, updated + changed, written + len(records)
        progress.advance(written)
    return created, updated


def write(
    user: AbstractBaseUser, records: list[SlotRecord], group: SlotGroup | None, *, new_to_imports: bool = False,
    claimed: dict[int, str] | None = None,
) -> tuple[int, int]:
    """Create and update the records' slots and file them (add_memberships); (created, updated).

    A slot counts as updated when the file changed one of its fields; joining a group is not
    a change of the slot (a second import into another group is "unchanged").
    """
    matches = matched_slots(user, records, {} if claimed is None else claimed)
    groups = record_groups(user, records)
    now = timezone.now()
    new: list[Slot] = []
    changed: list[Slot] = []
    placed: list[tuple[Slot, SlotRecord]] = []
    relabelled: list[Slot] = []
    for record, slot in zip(records, matches):
        if slot is None:
            slot = Slot(
                creator=user, source_uid=record.source_uid, source_series=record.source_series, **slot_values(record)
            )
            new.append(slot)
        else:
            if record.source_series and slot.source_series != record.source_series:
                # An occurrence imported, before its series, as an event of its own: now one of the series.
                slot.source_series = record.source_series
                relabelled.append(slot)
            # A file that names no zone leaves the slot in its own.
            record = record.placed_in(slot.time_zone)
            values = slot_values(record)
            if any(getattr(slot, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(slot, name, value)
                slot.updated_at = now
                changed.append(slot)
        placed.append((slot, record))
    Slot.objects.bulk_create(new)
    Slot.objects.bulk_update(changed, [*SLOT_FIELDS, "updated_at"], batch_size=LOOKUP_BATCH)
    Slot.objects.bulk_update(relabelled, ["source_series"], batch_size=LOOKUP_BATCH)
    if new or changed:
        # Bulk writes send no post_save: set the feeds' cached versions aside here (export/signals.py).
        slots_changed([user.pk])
    add_memberships(user, placed, group, groups, existing=[slot.pk for slot in matches if slot is not None],
                    new_to_imports=new_to_imports)
    return len(new), len(changed)


def remove_gone_occurrences(
    user: AbstractBaseUser, occurrences: set[tuple[str, str]], series: frozenset[str], window: RecurrenceWindow
) -> int:
    """Delete the user's occurrences of the file's series that start in the window and that the series no
    longer has (a newer export, an EXDATE, a cancelled occurrence, a shorter rule); the number deleted.

    Only slots imported from those series, by their source_series; an occurrence outside the window,
    which the file's reading did not look at, stays as it is.
    """
    kept = {source_uid for source_uid, source_series in occurrences if source_series in series}
    gone = []
    for keys in batches(series):
        gone += [
            pk
            # The condition of the index on (creator, source_series, start), said as it says it.
            for pk, source_uid in Slot.objects.filter(
                ~Q(source_series=""), creator=user, source_series__in=keys, start__gte=window.start,
                start__lt=window.end,
            ).order_by().values_list("pk", "source_uid")
            if source_uid not in kept
        ]
    for pks in batches(gone):
        Slot.objects.filter(pk__in=pks).delete()
    return len(gone)


def slot_values(record: SlotRecord) -> dict:
    return {name: getattr(record, name) for name in SLOT_FIELDS}


def as_uuid(uid: str | None) -> UUID | None:
    try:
        return UUID(uid) if uid else None
    except ValueError:
        return None


def batches(values: Iterable) -> Iterator[list]:
    values = list(values)
    for index in range(0, len(values), LOOKUP_BATCH):
        yield values[index:index + LOOKUP_BATCH]


def matched_slots(user: AbstractBaseUser, records: list[SlotRecord], claimed: dict[int, str]) -> list[Slot | None]:
    """The user's slot each record updates, if any: the slot whose uuid is the record's UID, else the
    slot imported before from the same UID. Only the user's own slots are ever looked at.

    claimed is where each slot was matched before, by the file's earlier batches of records.
    """
    own, known = {}, {}
    for uuids in batches({as_uuid(record.uid) for record in records} - {None}):
        own.update((slot.uuid, slot) for slot in Slot.objects.filter(creator=user, uuid__in=uuids))
    for keys in batches(record.source_uid for record in records):
        known.update((slot.source_uid, slot) for slot in Slot.objects.filter(creator=user, source_uid__in=keys))
    matches: list[Slot | None] = []
    problems: list[ImportProblem] = []
    for record in records:
        slot = own.get(as_uuid(record.uid)) or known.get(record.source_uid)
        if slot is not None:
            earlier = claimed.setdefault(slot.pk, record.where)
            if earlier != record.where:
                problems.append({"where": record.where, "problem": f"Updates the same slot as {earlier}."})
        matches.append(slot)
    if problems:
        raise ImportRejected(problems)
    return matches


def imports_group(user: AbstractBaseUser) -> SlotGroup:
    """The user's "Imports" group, created on first use."""
    group = SlotGroup.objects.filter(owner=user, name=IMPORTS_GROUP).order_by("pk").first()
    return group or SlotGroup.objects.create(owner=user, name=IMPORTS_GROUP)


def record_groups(user: AbstractBaseUser, records: list[SlotRecord]) -> dict[UUID, SlotGroup]:
    """The group each of the records' groups (JSON backups name them) stands for, for this user.

    A group the user owns or belongs to is itself. Any other uuid, another user's group or one that
    exists nowhere alike, is looked for among the user's own groups only: the one an import made from
    it before, else the one of its name, else a new one with a uuid of the server's choosing. So an
    import neither tells whether a uuid exists nor lets a file choose one.
    """
    wanted: dict[UUID, GroupRecord] = {}
    for record in records:
        for group in record.groups:
            wanted.setdefault(group.uuid, group)
    visible, restored, named = {}, {}, {}
    for uuids in batches(wanted):
        visible.update((group.uuid, group) for group in groups_visible_to(user=user, uuids=uuids))
    unseen = set(wanted) - set(visible)
    for uuids in batches(unseen):
        restored.update(
            (group.source_uuid, group) for group in SlotGroup.objects.filter(owner=user, source_uuid__in=uuids)
        )
    for names in batches({wanted[uuid].name for uuid in unseen - set(restored)}):
        for group in SlotGroup.objects.filter(owner=user, name__in=names).order_by("pk"):
            named.setdefault(group.name, group)
    groups = {}
    for uuid, group in wanted.items():
        found = visible.get(uuid) or restored.get(uuid) or named.get(group.name)
        groups[uuid] = found or SlotGroup.objects.create(
            owner=user, source_uuid=uuid, name=group.name, description=group.description
        )
    return groups


def add_memberships(
    user: AbstractBaseUser,
    placed: list[tuple[Slot, SlotRecord]],
    import_group: SlotGroup | None,
    groups: dict[UUID, SlotGroup],
    *,
    existing: list[int],
    new_to_imports: bool = False,
) -> None:
    """Add the slots to their record's groups (a backup's), and to the group the import names, where they are not yet.

    Without a group named, new_to_imports files the slots this import created in the user's "Imports" group (made
    then). A slot that was there before, changed or not, keeps the groups it has: importing one's own export, or a
    calendar imported before, moves nothing, and a slot taken out of "Imports" stays out.
    """
    known = set(existing)
    imports = None
    wanted = set()
    for slot, record in placed:
        targets = [groups[group.uuid] for group in record.groups]
        if import_group is not None:
            targets.append(import_group)
        elif new_to_imports and slot.pk not in known:
            imports = imports or imports_group(user)
            targets.append(imports)
        wanted.update((slot.pk, group.pk) for group in targets)
    Membership = Slot.groups.through
    have = set()
    for slot_ids in batches(existing):
        have.update(Membership.objects.filter(slot_id__in=slot_ids).values_list("slot_id", "slotgroup_id"))
    added = sorted(wanted - have)
    Membership.objects.bulk_create(
        [Membership(slot_id=slot_id, slotgroup_id=group_id) for slot_id, group_id in added],
        batch_size=LOOKUP_BATCH,
    )
    if added:
        # bulk_create sends no m2m_changed: move the group feeds' clock here (export/signals.py).
        SlotChangeClock.bump({slot.creator_id for slot, _ in placed})
        slots_changed({slot.creator_id for slot, _ in placed})
