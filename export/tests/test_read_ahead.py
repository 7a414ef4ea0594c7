"""Reading the next batch of an export's rows in a thread while the caller writes the one it has."""
import logging
import threading

import pytest
from django.db import connection, transaction
from django.test import override_settings

from export.exports import export_for
from export.formats.ical.mapping import EVENT_COLUMNS
from export.read_ahead import read_ahead
from slots.tests.factories import SlotFactory
from timeslot.request_ids import RequestIdFilter, handling

READER = "export-read-ahead"
# A guard against a hang, never a measure of speed.
PATIENCE = 30


def readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == READER]


class Source:
    """Rows 0, 1, 2, ... that note which thread read each one, can fail at a row, and know when they were closed."""

    def __init__(self, count: int, *, fail_at: int | None = None):
        self.count, self.fail_at = count, fail_at
        self.read_by: dict[int, threading.Thread] = {}
        self.reached: dict[int, threading.Event] = {}
        self.closed = False

    def when(self, row: int) -> threading.Event:
        return self.reached.setdefault(row, threading.Event())

    def rows(self):
        try:
            for row in range(self.count):
                if row == self.fail_at:
                    raise ValueError(f"row {row} cannot be read")
                self.read_by[row] = threading.current_thread()
                self.when(row).set()
                yield row
        finally:
            self.closed = True


class Collected(logging.Handler):
    """The thread and the request id (as the service's handlers read it, timeslot/request_ids.py) of each line."""

    def __init__(self):
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.lines: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.threadName, getattr(record, "request_id", None)))


def test_what_the_reading_thread_logs_is_of_the_callers_request():
    logger = logging.getLogger("export.tests.rows")
    collected = Collected()

    def logging_rows():
        for row in range(12):
            logger.warning("Row %d read.", row)
            yield row

    logger.addHandler(collected)
    try:
        with handling("the-export"):
            assert list(read_ahead(logging_rows(), batch=5)) == list(range(12))
    finally:
        logger.removeHandler(collected)

    assert {thread for thread, _ in collected.lines} == {threading.current_thread().name, READER}
    assert collected.lines == [(thread, "the-export") for thread, _ in collected.lines]


@pytest.mark.parametrize("count", [0, 1, 4, 5, 6, 10, 23])
def test_every_row_comes_once_in_order_whatever_the_count(count):
    source = Source(count)

    assert list(read_ahead(source.rows(), batch=5)) == list(range(count))
    assert source.closed
    assert not readers()


def test_the_next_batch_is_read_in_another_thread_while_the_caller_holds_the_first_row():
    source = Source(12)
    rows = read_ahead(source.rows(), batch=5)

    assert next(rows) == 0
    # The second batch is read while the caller has taken one row of the first: the caller does not wait for it.
    assert source.when(9).wait(PATIENCE), "the second batch was not read ahead"
    assert source.read_by[0] is threading.current_thread()
    assert {source.read_by[row] for row in range(5, 10)} == {readers()[0]}
    assert list(rows) == list(range(1, 12))


def test_a_short_stream_starts_no_thread():
    source = Source(4)
    rows = read_ahead(source.rows(), batch=5)

    assert next(rows) == 0
    assert not readers()
    assert list(rows) == [1, 2, 3]


def test_an_error_of_the_reading_thread_is_raised_in_the_callers_after_the_batches_before_it():
    source = Source(20, fail_at=12)
    taken = []

    with pytest.raises(ValueError, match="row 12 cannot be read"):
        for row in read_ahead(source.rows(), batch=5):
            taken.append(row)

    # The batch that failed (10-14) is lost whole; what came before it arrived.
    assert taken == list(range(10))
    assert source.closed
    assert not readers()


@pytest.mark.parametrize("stop", ["close", "throw"])
def test_a_caller_that_stops_early_closes_the_rows_and_leaves_no_thread(stop):
    source = Source(1000)
    # Held here, so that only read_ahead() closing it closes it (not its collection).
    source_rows = source.rows()
    rows = read_ahead(source_rows, batch=5)
    for _ in range(7):
        next(rows)
    # The reader has read the third batch and waits to be asked for the fourth.
    assert source.when(14).wait(PATIENCE)

    def stop_reading():
        if stop == "close":
            rows.close()
        else:
            with pytest.raises(ConnectionResetError):
                rows.throw(ConnectionResetError("the client went away"))

    caller = threading.Thread(target=stop_reading, daemon=True)
    caller.start()
    caller.join(PATIENCE)

    assert not caller.is_alive(), "the reading thread did not stop"
    assert source.closed
    assert not readers()
    # The reader stopped a batch after the caller, not at the end.
    assert len(source.read_by) == 15


@override_settings(EXPORT_CHUNK_SIZE=7)
def test_an_export_of_many_batches_reads_every_slot_once_in_order_on_the_database(user):
    SlotFactory.create_batch(60, creator=user)
    export = export_for(user=user)
    expected = list(export.slots.values_list("uuid", flat=True))

    with transaction.atomic():
        rows = export.rows("uuid", named=False)
        first = next(rows)
        # PostgreSQL's rows are read ahead; SQLite, in this process, would only compete for the GIL.
        assert len(readers()) == (0 if connection.vendor == "sqlite" else 1)
        uuids = [first[0], *(row[0] for row in rows)]

    assert uuids == expected
    assert not readers()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_cursors: PostgreSQL's server-side cursors")
def test_rows_stopped_early_close_their_cursor_inside_the_transaction(user):
    SlotFactory.create_batch(60, creator=user)

    with transaction.atomic(), connection.cursor() as cursor:
        # Held here, so that only read_ahead() closing it closes its cursor (not its collection).
        slots = export_for(user=user).slots.values_list(*EVENT_COLUMNS).iterator(chunk_size=7)
        rows = read_ahead(slots, batch=7)
        for _ in range(20):
            next(rows)
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE NOT is_holdable")
        assert cursor.fetchone() == (1,)

        rows.close()

        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone() == (0,)
        assert not readers()
