"""Transactions that write, on every database the service runs on."""
from contextlib import contextmanager

from django.db import transaction


@contextmanager
def write_transaction():
    """transaction.atomic() for a transaction that reads, then writes; on SQLite it takes the write lock as it
    begins (BEGIN IMMEDIATE), waiting its turn behind other writers.

    SQLite's default BEGIN takes that lock at the first write: a transaction that has read by then and finds
    another writer is refused at once ("database is locked"), without the busy timeout's wait, since both
    waiting for each other would never end. Only writers begin so: an export's long read
    (export/exports.py) must not keep every other export and import waiting; in WAL mode it keeps no one.
    Inside another transaction, this is a savepoint of it, as atomic() is.
    """
    connection = transaction.get_connection()
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    # Connected first: connecting sets transaction_mode again from settings (OPTIONS).
    connection.ensure_connection()
    configured = connection.transaction_mode
    connection.transaction_mode = "IMMEDIATE"
    try:
        with transaction.atomic():
            connection.transaction_mode = configured
            yield
    finally:
        connection.transaction_mode = configured
