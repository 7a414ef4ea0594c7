"""Rows read one batch ahead, in a thread, while the caller writes the batch it has.

An export reads a batch of rows from the database, then writes it, then reads
the next. While the database looks the next batch up and sends it, the
writer would wait: at 100,000 slots on PostgreSQL, about 0.75 s of an export's
3.2-3.4 s (docs/performance.md). The database driver lets other Python threads run
while it waits on the server (psycopg2 and sqlite3 both release the GIL), so
a thread can fetch the next batch meanwhile. Only a database server gives
it anything to overlap: SQLite runs in the export's own process, where a
second thread only competes for the GIL (an export of 100,000 slots on SQLite
took about 1.2 times the CPU time with it).

The reading thread only ever advances the caller's iterator, whose cursor the
first batch opened in the caller's thread; it never opens a connection or a
transaction of its own. It runs in a copy of the caller's context, so that what
it logs names the caller's request (timeslot/request_ids.py).
"""
import contextvars
import itertools
import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

from django.db import connections

Row = TypeVar("Row")

# Databases that run inside this process.
EMBEDDED = frozenset({"sqlite"})


def pays_off(database: str) -> bool:
    """Whether reading ahead from this database (an alias) can overlap anything: it runs in a server."""
    return connections[database].vendor not in EMBEDDED


def read_ahead(rows: Iterator[Row], *, batch: int) -> Iterator[Row]:
    """The rows, in order, read a batch ahead of the caller.

    An error of the reading thread is raised here, in the caller's thread. When
    the caller stops early (an error, a client gone), the reading thread
    finishes the batch it is reading, and rows is closed (with it the cursor)
    before this generator returns: within the caller's transaction.
    """
    try:
        first = list(itertools.islice(rows, batch))
        if len(first) < batch:
            yield from first
            return
        reader = _Reader(rows, batch)
        try:
            yield from first
            del first
            yield from reader
        finally:
            reader.stop()
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


class _Reader:
    """A thread that reads the next batch when asked; an empty batch is the end.

    It reads the first at once, then one at a time as the caller takes the one
    before: two batches at most are in memory, the one being written and the
    one being read.
    """

    def __init__(self, rows: Iterator[Row], batch: int):
        self.rows, self.batch = rows, batch
        self.wanted: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self.ready: queue.SimpleQueue = queue.SimpleQueue()
        self.stopping = threading.Event()
        # A daemon, so that a stream its caller forgot (never closed) cannot keep the process alive.
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self.read,), name="export-read-ahead", daemon=True)
        self.thread.start()
        self.wanted.put(True)

    def read(self) -> None:
        try:
            while self.wanted.get() and not self.stopping.is_set():
                rows = list(itertools.islice(self.rows, self.batch))
                self.ready.put(rows)
                if not rows:
                    return
        except BaseException as error:
            self.ready.put(error)

    def __iter__(self) -> Iterator[Row]:
        while True:
            rows = self.ready.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            self.wanted.put(True)
            yield from rows

    def stop(self) -> None:
        """End the thread once it has read the batch it is reading, if any, and wait for it."""
        self.stopping.set()
        self.wanted.put(False)
        self.thread.join()
