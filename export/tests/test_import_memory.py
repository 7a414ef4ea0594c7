"""What an import holds while it reads a file does not grow with the file: it reads it a line at a time and an
event at a time, and keeps the records on disk until they are written (docs/performance.md gives the figures
of a 50 MB export). Measured with tracemalloc, which counts every allocation Python makes: the shape of the
cost, not a time."""
import tempfile
import tracemalloc

import pytest
from django.test import override_settings

from bench.google_export import google_export
from export.formats.ical.lines import CalendarSource
from export.imports.service import import_slots, read_context, read_records
from export.imports.spool import RecordSpool
from slots.models import Slot

MB = 1024 * 1024
# The records the spool keeps in memory before it writes them to disk (1,000 in an import): fewer here, so that
# files small enough for a quick test hold many batches.
BATCH = 20
UNBOUNDED = override_settings(IMPORT_MAX_BYTES=64 * MB, IMPORT_MAX_RECORDS=10**6, IMPORT_MAX_OCCURRENCES=10**7)


def reading_peak(megabytes: float) -> tuple[int, int, int]:
    """The most memory the reading of a Google-style export of this size held at once, beyond the file on
    disk; the records it made; and the file's size."""
    data, _, _ = google_export(megabytes)
    with tempfile.TemporaryFile() as file, UNBOUNDED:
        file.write(data)
        size, data = len(data), None
        spool = RecordSpool(batch=BATCH)
        tracemalloc.start()
        try:
            read_records(CalendarSource(file), "ical", read_context(None), spool)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            spool.close()
    return peak, len(spool), size


def test_the_memory_a_reading_holds_does_not_grow_with_the_file():
    small_peak, small_records, small_size = reading_peak(0.5)
    large_peak, large_records, large_size = reading_peak(2)

    # Both files hold many batches of records, which the spool keeps on disk.
    assert 10 * BATCH < small_records < large_records
    assert large_size > 3.9 * small_size
    # What grows is the index of the file's UIDs and of where each record was read: well under a kilobyte an
    # event, of the 2 KB each one takes in the file.
    assert (large_peak - small_peak) / (large_records - small_records) < 1024
    # Less than the file itself (the fixed part, one event's parse and a batch, is about half of this one): no
    # copy of its text, no tree of its events, no list of its records, which held 13 MB a megabyte of file.
    assert large_peak < large_size


@pytest.mark.django_db
def test_a_file_read_from_its_file_imports_as_its_bytes_do(user):
    """The upload's file and the same bytes give the same slots (the API passes the file, tests the bytes)."""
    data, events, series = google_export(0.2)
    with tempfile.TemporaryFile() as file, UNBOUNDED:
        file.write(data)
        from_file = import_slots(user=user, data=file)
        slots = sorted(Slot.objects.filter(creator=user).values_list("source_uid", "start", "end", "title"))
        again = import_slots(user=user, data=data)

    assert from_file.created == len(slots) > events - series
    assert (again.created, again.updated, again.unchanged) == (0, 0, from_file.created)
    assert sorted(Slot.objects.filter(creator=user).values_list("source_uid", "start", "end", "title")) == slots
