"""The in-process measurements of bench/export.py, each run in a fresh child process.

    python -m bench.probes floor USERNAME
    python -m bench.probes reference USERNAME

Run from the repository root with DATABASE_URL and DJANGO_SETTINGS_MODULE set.
Django is set up, the user is read and the connection opened before the clock
starts; then it prints one JSON object: seconds, the CPU seconds of this
process, bytes (reference only), rows (floor only) and the peak growth of this
process's resident memory in bytes.

- floor: fetch the user's rows as values_list() hands them over (the fields
  the export reads, as Python objects, by start then uuid, in chunks of
  2,000) and discard them.
- reference: render the user's calendar with django-ical's ICalFeed (bench/reference.py).
"""
import argparse
import json
import sys
from collections import deque
from time import perf_counter, process_time

import django

from bench.procfs import PeakGrowth

FLOOR_CHUNK_SIZE = 2000


def event_fields() -> list[str]:
    """The slot fields behind the export's EVENT_COLUMNS, some of which the database formats as text."""
    from export.formats.ical.mapping import EVENT_COLUMNS

    return [column if isinstance(column, str) else column.source_expressions[0].name for column in EVENT_COLUMNS]


def floor(user) -> dict:
    from slots.selectors import slot_list

    rows = slot_list(user=user).values_list(*event_fields()).iterator(chunk_size=FLOOR_CHUNK_SIZE)
    with PeakGrowth() as peak:
        start, cpu = perf_counter(), process_time()
        counted = deque(enumerate(rows, 1), maxlen=1)
        seconds, cpu = perf_counter() - start, process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "rows": counted[0][0] if counted else 0, "rss_growth": peak.bytes}


def reference(user) -> dict:
    from django.test import RequestFactory

    from bench.reference import SlotFeed

    request = RequestFactory().get("/reference.ics", HTTP_HOST="127.0.0.1")
    request.user = user
    feed = SlotFeed()
    with PeakGrowth() as peak:
        start, cpu = perf_counter(), process_time()
        response = feed(request)
        seconds, cpu = perf_counter() - start, process_time() - cpu
    if response.status_code != 200 or not response.content.endswith(b"END:VCALENDAR\r\n"):
        raise RuntimeError(f"ICalFeed answered {response.status_code} with an incomplete calendar.")
    return {"seconds": seconds, "cpu_seconds": cpu, "bytes": len(response.content), "rss_growth": peak.bytes}


PROBES = {"floor": floor, "reference": reference}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=sorted(PROBES))
    parser.add_argument("username")
    args = parser.parse_args()
    django.setup()
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=args.username)
    json.dump(PROBES[args.probe](user), sys.stdout)


if __name__ == "__main__":
    main()
