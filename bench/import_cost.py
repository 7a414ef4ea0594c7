"""What hostile iCalendar files cost the import's reader, in process (docs/performance.md).

    .venv/bin/python bench/import_cost.py [--folds N] [--runs K]

- unfolding: the survey (export/formats/ical/survey.py) of a file holding one event whose DESCRIPTION is
  folded N times (1.3 million by default, 5.2 MB: one character on each continuation line), the first
  reading, which unfolds and numbers the lines before icalendar parses anything;
- zones: read_ical() of 100 VTIMEZONEs of eight yearly rules that never match, each used by one
  event in 9998, the file that spends the whole of an import's zone work (ZONE_WORK_STEPS) the
  slowest way this benchmark knows; and of 100 zones of two real yearly rules (Europe/Paris as
  Outlook writes it, from 1601) each used in 9998, the most a real file may ask;
- series: read_ical() of 40 daily rules that never match (each walks on to the year 9999), of ten
  daily series from the year 2, the files that spend the whole of an import's series work
  (SERIES_WORK_STEPS) the slowest ways this benchmark knows, and of 18 daily series that make
  19,728 occurrences in the default window, nearly IMPORT_MAX_OCCURRENCES.

Prints, for each, the median and the range of K runs in seconds of CPU time of this process
(wall times on a shared machine stretch with the other work), and the zone work spent.
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# Run as `python bench/import_cost.py`: the root on the path, for the project's modules.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timeslot.settings")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=1_300_000)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args(argv)


def folded_file(folds: int) -> str:
    return "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDESCRIPTION:" + "\r\n x" * folds + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"


def zones_file(observances: list[str]) -> str:
    from export.tests.importing import calendar

    zones = [
        "\n".join([f"BEGIN:VTIMEZONE\nTZID:Zone {n}", *observances, "END:VTIMEZONE"]) for n in range(100)
    ]
    events = [f"UID:{n}\nDTSTART;TZID=Zone {n}:99980601T120000" for n in range(100)]
    return calendar(*events, head="\n".join(zones))


def observance(kind: str, start: str, offsets: tuple[str, str], rule: str) -> str:
    return (
        f"BEGIN:{kind}\nDTSTART:{start}\nTZOFFSETFROM:{offsets[0]}\nTZOFFSETTO:{offsets[1]}\n"
        f"RRULE:{rule}\nEND:{kind}"
    )


def cpu_seconds(run) -> tuple[float, object]:
    start = time.process_time()
    result = run()
    return time.process_time() - start, result


def report(name: str, seconds: list[float], note: str = "") -> None:
    print(
        f"{name}: median {statistics.median(seconds):.3f} s CPU, range {min(seconds):.3f}-{max(seconds):.3f} "
        f"({len(seconds)} runs){note}"
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    import django

    django.setup()
    from export.formats.ical.lines import CalendarSource
    from export.formats.ical.not_held import NotHeld
    from export.formats.ical.reader import read_ical
    from export.formats.ical.survey import surveyed
    from export.formats.ical.zone_rules import ZoneWork
    from export.imports.records import ImportRejected, ReadContext

    text = folded_file(args.folds)
    seconds = [cpu_seconds(lambda: surveyed(CalendarSource(text), NotHeld(), 10_000))[0] for _ in range(args.runs)]
    report(f"unfolding {args.folds:,} one-character folds ({len(text):,} bytes)", seconds)

    never = [observance("STANDARD", f"1601010{day}T000000", ("+0100", "+0000"), "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30")
             for day in range(1, 9)]
    paris = [
        observance("STANDARD", "16010101T030000", ("+0200", "+0100"), "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"),
        observance("DAYLIGHT", "16010101T020000", ("+0100", "+0200"), "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
    ]
    context = ReadContext(time_zone="UTC", zone_named=False, max_records=10_000)
    for name, observances in [("100 zones of 8 rules never matching", never), ("100 zones like Paris", paris)]:
        text, samples, outcome = zones_file(observances), [], ""
        for _ in range(args.runs):
            work = ZoneWork()

            def read():
                try:
                    read_ical(text, context, work)
                    return "imported"
                except ImportRejected as rejected:
                    return f"422 at {rejected.problems[-1]['where']}"

            elapsed, outcome = cpu_seconds(read)
            samples.append(elapsed)
        report(f"{name}, each used in 9998", samples, f": {outcome}, {work.spent:,} steps of {work.steps:,}")

    from export.formats.ical.series import recurrence_window
    from export.tests.importing import calendar

    context = ReadContext(time_zone="UTC", zone_named=False, max_records=10_000, recurrence=recurrence_window())
    first = context.recurrence.start.strftime("%Y%m%d")
    for name, events in [
        ("40 daily rules never matching", [f"UID:n{n}\nDTSTART:20200101T090000Z\nRRULE:FREQ=DAILY;BYMONTH=2;"
                                           "BYMONTHDAY=30" for n in range(40)]),
        ("10 daily series from the year 2",
         [f"UID:o{n}\nDTSTART:00020101T090000Z\nRRULE:FREQ=DAILY" for n in range(10)]),
        ("18 daily series in the window", [f"UID:d{n}\nDTSTART:{first}T090000Z\nRRULE:FREQ=DAILY" for n in range(18)]),
    ]:
        text, samples, outcome = calendar(*events), [], ""
        for _ in range(args.runs):

            def read():
                try:
                    return f"{len(read_ical(text, context).records):,} slots"
                except ImportRejected as rejected:
                    return f"422 at {rejected.problems[-1]['where']}"

            elapsed, outcome = cpu_seconds(read)
            samples.append(elapsed)
        report(f"series: {name} ({len(text):,} bytes)", samples, f": {outcome}")


if __name__ == "__main__":
    main()
