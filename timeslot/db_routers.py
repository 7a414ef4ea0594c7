"""Reads from a streaming replica (DATABASE_REPLICA_URL): those of an export, of a feed's fetch and of the
admin's preview, each inside an explicit scope (`with replica_reads(user):`); every write, and every read
outside such a scope, goes to the primary (DATABASE_URL).

Read-your-writes. Whenever a user's slots change (export/feed_versions.py, slots_changed, which every slot
change reaches), the primary's WAL position once the change committed is kept in the shared cache as the
user's mark. A scope reads from the replica only if the replica has replayed up to the user's mark
(pg_last_wal_replay_lsn(), one query on the replica as the scope first reads); a user without a mark has
written nothing the replica may lack. So a user reads their own writes however far the replica lags, and
everyone else reads from it however stale: no lag is assumed. The feed's version, which the cache keeps
(export/feed_versions.py), is read from where its calendar is: a version read from a replica that had not
replayed a change could otherwise outlive it there.

A replica that cannot be reached is no outage: the scope reads from the primary, as without a replica, and the
process tries the replica again REPLICA_RETRY_SECONDS later. /readyz says so (timeslot/health.py) but stays
ready.
"""
import contextlib
import contextvars
import logging
import time
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
# A mark matters while the replica has not replayed it, seconds in practice: a day is long past that.
MARK_SECONDS = 24 * 60 * 60
# The query the scope asks the replica: whether it has replayed the mark (a server not replaying, one
# promoted, holds whatever it has: NULL, read as yes).
CAUGHT_UP = "SELECT coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, true)"

_current: contextvars.ContextVar["ReplicaReads | None"] = contextvars.ContextVar("replica_reads", default=None)
# Until when (time.monotonic()) this process reads from the primary, the replica having failed to answer.
_unreachable_until = 0.0


def configured() -> bool:
    """Whether DATABASES has a replica (the settings do when DATABASE_REPLICA_URL is set)."""
    return REPLICA in connections.settings


class ReplicaReads:
    """The database one scope reads from: decided once, as it first reads, for its user."""

    def __init__(self, user_id: int):
        self.user_id = user_id
        self._alias: str | None = None

    def alias(self) -> str:
        # A transaction of the primary's sees its own writes: its reads stay with it.
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        if self._alias is None:
            self._alias = REPLICA if replica_has_replayed(self.user_id) else DEFAULT_DB_ALIAS
        return self._alias

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        token = _current.set(self)
        try:
            yield
        finally:
            _current.reset(token)


@contextlib.contextmanager
def replica_reads(user) -> Iterator[None]:
    """The block's reads from the replica, if there is one and it has replayed the user's last write; from the
    primary otherwise. Its writes go to the primary, as every write does."""
    if not configured():
        yield
        return
    with ReplicaReads(user.pk).entered():
        yield


def read_within_scope(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks, each drawn, and the stream closed, within the scope current now: a streamed answer's server
    draws them after the view has returned, outside its `with`."""
    scope = _current.get()
    if scope is None:
        return iter(chunks)
    return _drawn_within(scope, iter(chunks))


def _drawn_within(scope: ReplicaReads, chunks: Iterator[bytes]) -> Iterator[bytes]:
    try:
        while True:
            with scope.entered():
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            with scope.entered():
                close()


def replica_has_replayed(user_id: int) -> bool:
    """Whether the replica answers and has replayed the user's mark; False (the primary, then) if the cache,
    which holds the mark, or the replica cannot tell."""
    global _unreachable_until
    if time.monotonic() < _unreachable_until:
        return False
    try:
        mark = cache.get(mark_key(user_id))
    except Exception:
        logger.exception("The cache is unreachable: reads of user %s go to the primary.", user_id)
        return False
    try:
        with connections[REPLICA].cursor() as cursor:
            cursor.execute(CAUGHT_UP, [mark or "0/0"])
            (caught_up,) = cursor.fetchone()
    except DatabaseError as exc:
        _unreachable_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
        # The driver's message names host and port, never the password.
        logger.warning("The replica is unreachable, reads go to the primary for %d s: %s",
                       settings.REPLICA_RETRY_SECONDS, (str(exc).strip().splitlines() or [""])[0])
        connections[REPLICA].close()
        return False
    return caught_up


def mark_written(user_ids: Iterable[int]) -> None:
    """The users' writes committed: until the replica has replayed them, their scopes read from the primary.
    Called once the transaction committed, before the feeds' versions are set aside (a fetch that finds the
    new generation then finds the mark too)."""
    user_ids = set(user_ids)
    if not user_ids or not configured():
        return
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            # The position of the WAL's end: past the commit record of every transaction committed so far.
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (position,) = cursor.fetchone()
    except DatabaseError:
        logger.exception("The primary's WAL position is unknown: the users' reads may lag their writes.")
        return
    try:
        # Two commits of one user a moment apart may set their marks out of order, the later one lower: it
        # is still past its own commit, and the replica passes both within moments.
        cache.set_many({mark_key(pk): position for pk in user_ids}, timeout=MARK_SECONDS)
    except Exception:
        logger.exception("The cache is unreachable: the users' reads may lag their writes.")


def mark_key(user_id: int) -> str:
    return f"replica_mark_{user_id}"


class ReplicaRouter:
    """DATABASE_ROUTERS with a replica: reads inside a scope of replica_reads() go where it decided, every other
    read and every write to the primary (also of an object read from the replica, which Django's default
    routing would send back to it)."""

    def db_for_read(self, model, **hints) -> str:
        scope = _current.get()
        return DEFAULT_DB_ALIAS if scope is None else scope.alias()

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # One database and its copy.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        # The replica has the primary's schema from the primary.
        return db == DEFAULT_DB_ALIAS
