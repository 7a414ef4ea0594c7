"""The Outlook/Google Calendar CSV (docs/formats.md, "CSV") as slot records.

Reads what export/formats/outlook/writer.py writes, and the same columns from Outlook and Google, found
by name in any order (others are ignored). Dates and times are wall-clock times in the
import's zone: a CSV names none.
"""
import csv
import io
import zoneinfo
from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

from export.imports.detect import csv_columns
from export.imports.records import (
    OUT_OF_RANGE,
    ImportProblem,
    ImportRejected,
    ReadContext,
    Reading,
    SlotRecord,
    content_key,
    quoted,
)
from slots.models import Slot

# Google documents MM/DD/YYYY and hh:mm AM/PM; Outlook writes 9:00:00 AM; some tools 24-hour times.
DATE_FORMAT = "%m/%d/%Y"
TIME_FORMATS = ("%I:%M %p", "%I:%M:%S %p", "%H:%M", "%H:%M:%S")
TRUE, FALSE = "true", "false"
# The export's formula guard puts one "'" before such cells (export/formats/outlook/writer.py); taking one off
# every cell undoes it exactly, since a cell that starts with "'" got one too.
GUARD = "'"


class Unreadable(Exception):
    """A row that cannot become a slot; the message says why."""


def read_csv(text: str, context: ReadContext) -> Reading:
    """The rows of the CSV as slot records; ImportRejected with every problem found."""
    rows = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    records: list[SlotRecord] = []
    problems: list[ImportProblem] = []
    keys: Counter = Counter()
    zone = zoneinfo.ZoneInfo(context.time_zone)
    line, count = 1, 0
    try:
        for cells in rows:
            # A record may span lines (a quoted line break); it begins after the last one ended.
            first_line, line = line, rows.line_num + 1
            if not any(cells):
                continue
            if header is None:
                header, columns = cells, csv_columns(cells)
                continue
            count += 1
            if count > context.max_records:
                raise context.too_many()
            try:
                if len(cells) > len(header):
                    raise Unreadable(f"The row has {len(cells)} cells; the header has {len(header)}.")
                records.append(row_record(cells, columns, f"line {first_line}", zone, context, keys))
            except Unreadable as unreadable:
                problems.append({"where": f"line {first_line}", "problem": str(unreadable)})
            except OverflowError:
                problems.append({"where": f"line {first_line}", "problem": OUT_OF_RANGE})
    except csv.Error as error:
        problems.append({"where": f"line {rows.line_num}", "problem": f"Not readable as CSV: {error}"})
    if problems:
        raise ImportRejected(problems)
    return Reading(records, [])


def row_record(
    raw: list[str], columns: dict[str, int], where: str, zone: zoneinfo.ZoneInfo, context: ReadContext, keys: Counter
) -> SlotRecord:
    cells = [cell[1:] if cell.startswith(GUARD) else cell for cell in raw]

    def cell(name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    # Google reads a row without a start time, and without All Day Event, as all day.
    all_day = flag(cell("all day event"), "All Day Event", default=not cell("start time").strip())
    first = day(cell("start date"), "Start Date")
    if first is None:
        raise Unreadable("Start Date is empty.")
    last = day(cell("end date"), "End Date")
    if all_day:
        start = at(first, time(), zone)
        # The CSV's End Date is the last day (inclusive, as Google documents it); a slot ends
        # at the start of the day after.
        end = None if last is None else at(last + timedelta(days=1), time(), zone)
    else:
        start = at(first, clock(cell("start time"), "Start Time", required=True), zone)
        end_time = clock(cell("end time"), "End Time", required=last is not None)
        end = None if end_time is None else at(last or first, end_time, zone)
    if end is not None and end < start:
        raise Unreadable("The end is before the start.")
    return SlotRecord(
        where=where,
        uid=None,
        # A CSV has no identifiers: a row is known by its cells, so the same file imports once.
        source_uid=content_key("csv", raw, keys),
        title=cell("subject"),
        description=cell("description"),
        location=cell("location"),
        start=start,
        end=end,
        all_day=all_day,
        visibility=visibility(cell("private")),
        time_zone=context.time_zone,
        zone_named=context.zone_named,
        wall_clock=True,
    )


def visibility(private: str) -> str:
    """docs/formats.md: True is private, False public; no value is the safe side."""
    return Slot.Visibility.PRIVATE if flag(private, "Private", default=True) else Slot.Visibility.PUBLIC


def flag(value: str, column: str, *, default: bool) -> bool:
    value = value.strip().lower()
    if not value:
        return default
    if value not in (TRUE, FALSE):
        raise Unreadable(f"{column} must be True or False, not {quoted(value)}.")
    return value == TRUE


def day(value: str, column: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.strptime(value, DATE_FORMAT).date()
    except ValueError:
        raise Unreadable(f"{column} must be a date MM/DD/YYYY, not {quoted(value)}.")


def clock(value: str, column: str, *, required: bool) -> time | None:
    value = value.strip()
    if not value:
        if required:
            raise Unreadable(f"{column} is empty.")
        return None
    for time_format in TIME_FORMATS:
        try:
            return datetime.strptime(value.upper(), time_format).time()
        except ValueError:
            continue
    raise Unreadable(f"{column} must be a time hh:mm AM/PM, not {quoted(value)}.")


def at(on: date, clock_time: time, zone: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(on, clock_time, tzinfo=zone).astimezone(timezone.utc)
