"""Which format a file is in, read from its content, never its name (docs/formats.md, "Import")."""
import csv
import re
from typing import Literal

from export.imports.records import ImportRejected

Format = Literal["ical", "json", "csv"]

FIRST_LINE = re.compile(r"[^\r\n]*")
# Google Calendar's CSV import needs these two columns; every other one is optional.
CSV_REQUIRED = ("subject", "start date")


def csv_columns(cells: list[str]) -> dict[str, int]:
    """Column positions by lower-case name (Outlook writes "All day event", we write "All Day Event")."""
    columns: dict[str, int] = {}
    for index, name in enumerate(cells):
        columns.setdefault(name.strip().lower(), index)
    return columns


def is_csv_header(line: str) -> bool:
    try:
        columns = csv_columns(next(csv.reader([line]), []))
    except csv.Error:
        return False
    return all(name in columns for name in CSV_REQUIRED)


def detect(text: str) -> Format:
    """The file's format from its first line that is not blank, after any byte-order mark."""
    first = FIRST_LINE.match(text.lstrip("\ufeff").lstrip()).group()
    if first.upper().startswith("BEGIN:VCALENDAR"):
        return "ical"
    if first.startswith("{"):
        return "json"
    if is_csv_header(first):
        return "csv"
    raise ImportRejected([{
        "where": "file",
        "problem": "Unknown format: expected an iCalendar file (BEGIN:VCALENDAR), a Timeslot JSON backup "
        "or a CSV file whose header has Subject and Start Date.",
    }])
