"""A file's records between their reading and their writing: each checked as it comes, then kept on disk, a
batch at a time, so that what an import holds does not grow with the file (docs/performance.md).

Nothing is written to the database before the whole file is read and every record checked: the
all-or-nothing rule needs no transaction held open while a large file is parsed.
"""
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import replace

from export.imports.records import (
    EARLIEST,
    LATEST,
    OUT_OF_RANGE,
    ImportProblem,
    ImportRejected,
    ImportWarning,
    SlotRecord,
)
from slots.models import Slot

# Records a batch: what one write of the import looks up and creates at once.
BATCH = 1000
# Text that does not fit its column is cut, with a warning, rather than refusing a calendar for a long title.
TEXT_LIMITS = tuple((name, Slot._meta.get_field(name).max_length) for name in ("title", "location"))


class RecordSpool:
    """The checked records of one file, in the file's order, in a temporary file that goes with the spool."""

    def __init__(self, batch: int = BATCH):
        self.file = tempfile.TemporaryFile()
        self.batch_size = batch
        self.batch: list[SlotRecord] = []
        self.count = 0
        self.spooled = 0  # batches on disk
        self.warnings: list[ImportWarning] = []
        self.out_of_range: list[ImportProblem] = []
        self.duplicates: list[ImportProblem] = []
        self.first: dict[str, str] = {}  # where each source_uid was first read
        # The occurrences of series among the records: (source_uid, source_series).
        self.occurrences: set[tuple[str, str]] = set()

    def append(self, record: SlotRecord) -> None:
        record = self.fitted(record)
        if not EARLIEST <= record.start <= LATEST or (record.end is not None and not record.end <= LATEST):
            self.out_of_range.append({"where": record.where, "problem": OUT_OF_RANGE})
        # One record a UID: two would be two versions of one slot, and the file does not say which is right.
        earlier = self.first.setdefault(record.source_uid, record.where)
        if earlier != record.where:
            self.duplicates.append({"where": record.where, "problem": f"Has the same UID as {earlier}."})
        if record.source_series:
            self.occurrences.add((record.source_uid, record.source_series))
        self.batch.append(record)
        self.count += 1
        if len(self.batch) >= self.batch_size:
            self.flush()

    def extend(self, records) -> None:
        for record in records:
            self.append(record)

    def __len__(self) -> int:
        return self.count

    def fitted(self, record: SlotRecord) -> SlotRecord:
        """The record with a title and a location that fit their columns."""
        changes = {}
        for name, limit in TEXT_LIMITS:
            value = getattr(record, name)
            if len(value) > limit:
                changes[name] = value[:limit]
                self.warnings.append({"where": record.where, "warning": f"The {name} was cut to {limit} characters."})
        return replace(record, **changes) if changes else record

    def check(self) -> None:
        """ImportRejected when a record is out of range, else when two share a UID."""
        if self.out_of_range:
            raise ImportRejected(self.out_of_range)
        if self.duplicates:
            raise ImportRejected(self.duplicates)

    def flush(self) -> None:
        if self.batch:
            pickle.dump(self.batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.spooled += 1
            self.batch = []

    def batches(self) -> Iterator[list[SlotRecord]]:
        """The records, a batch at a time, in the order they came."""
        self.flush()
        self.file.seek(0)
        for _ in range(self.spooled):
            yield pickle.load(self.file)

    def __iter__(self) -> Iterator[SlotRecord]:
        for batch in self.batches():
            yield from batch

    def close(self) -> None:
        self.file.close()
