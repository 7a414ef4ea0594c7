"""The CSV that Outlook's and Google Calendar's imports read: a slot as a row, rows as RFC 4180 chunks.

docs/formats.md gives the columns and the reasons for each rule.
"""
import csv
import itertools
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from export.formats.chunks import in_chunks
from export.formats.ical.mapping import all_day_dates
from slots.models import Slot

HEADER = (
    "Subject", "Start Date", "Start Time", "End Date", "End Time",
    "All Day Event", "Description", "Location", "Private",
)
ROW_FIELDS = ("title", "start", "end", "all_day", "time_zone", "description", "location", "visibility")
# Outlook and Excel read UTF-8 only behind a byte-order mark; Google skips it.
BOM = "\ufeff"
# A spreadsheet evaluates a cell that starts with one of these (OWASP CSV injection);
# "'" is in the list so that the guard can be undone exactly on import.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def guarded(text: str) -> str:
    """The text, shown as text by a spreadsheet: one "'" before a would-be formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def us_date(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year:04d}"


def us_time(moment: datetime) -> str:
    """hh:mm AM/PM, without strftime's %p, which follows the C locale."""
    return f"{moment.hour % 12 or 12:02d}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def slot_row(slot, zone: ZoneInfo) -> list[str]:
    """The CSV cells of a slot (a Slot or a row with the ROW_FIELDS), its times in the file's one zone.

    A CSV names no zone, and an importer reads the whole file in one: each slot's own zone would place
    the slots of the others hours off. An all-day slot keeps the dates it has in its own zone.
    """
    if slot.all_day:
        first, after = all_day_dates(slot.start, slot.end, slot.time_zone)
        # Google's CSV wants the last day of an all-day event, not the day after it.
        start = (us_date(first), "")
        end = (us_date(after - timedelta(days=1)), "") if after else ("", "")
    else:
        local_start = slot.start.astimezone(zone)
        start = (us_date(local_start), us_time(local_start))
        if slot.end is None:
            end = ("", "")
        else:
            local_end = slot.end.astimezone(zone)
            end = (us_date(local_end), us_time(local_end))
    return [
        guarded(slot.title), *start, *end, "True" if slot.all_day else "False",
        guarded(slot.description), guarded(slot.location),
        "False" if slot.visibility == Slot.Visibility.PUBLIC else "True",
    ]


class _Line:
    """What csv.writer writes to: it hands each formatted record back."""

    def write(self, record: str) -> str:
        return record


def csv_chunks(rows: Iterable[list[str]]) -> Iterator[bytes]:
    """The header and the rows as RFC 4180 CSV (CRLF, minimal quoting), UTF-8 with a BOM, in chunks."""
    writer = csv.writer(_Line(), lineterminator="\r\n")
    records = itertools.chain([BOM + writer.writerow(HEADER)], (writer.writerow(row) for row in rows))
    return in_chunks(record.encode() for record in records)
