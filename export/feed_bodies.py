"""A feed's calendar kept in the shared cache by its version's ETag, so that the devices subscribed to one feed
have it written once: a full fetch of a version already sent is answered with the bytes it was sent as.

One ETag names one byte sequence (export.feeds.FeedVersion.etag: DTSTAMP is the version's moment), so the
bytes kept under it are the renderer's own, and a change to the feed gives a new ETag and so another entry:
nothing is ever invalidated, an entry of a version no longer current is simply never asked for again and
goes when it expires or the cache needs the room (Redis's maxmemory with allkeys-lru, README, Production).
Only a calendar of at most FEED_BODY_CACHED_MAX_BYTES is kept (0: none), and only from a stream that
ended: one cut off by its client or a failure is not a whole calendar.

Each process also keeps the last calendars it sent or read, PROCESS_BYTES of them at most: a copy named by its
ETag is never stale either, and a feed fetched again from the same worker is not carried out of Redis again.
"""
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from export.feeds import FeedVersion

logger = logging.getLogger(__name__)

# A version's bytes are asked for while it is current; a day bounds the stay of those no longer current (and of
# a release's bytes after the next one changes the writer).
FEED_BODY_CACHED_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class KeptBody:
    """The calendar a version was sent as, and the slots its export log row counted."""

    body: bytes
    slot_count: int


class ProcessBodies:
    """The calendars this process keeps, least recently used first, bound bytes of them at most."""

    def __init__(self, bound: int):
        self.bound, self.size = bound, 0
        self.bodies: OrderedDict[str, KeptBody] = OrderedDict()
        # A worker's threads share it.
        self.lock = threading.Lock()

    def get(self, key: str) -> KeptBody | None:
        with self.lock:
            kept = self.bodies.get(key)
            if kept is not None:
                self.bodies.move_to_end(key)
            return kept

    def put(self, key: str, kept: KeptBody) -> None:
        if len(kept.body) > self.bound:
            return
        with self.lock:
            if key in self.bodies:
                return
            self.bodies[key], self.size = kept, self.size + len(kept.body)
            while self.size > self.bound:
                _, dropped = self.bodies.popitem(last=False)
                self.size -= len(dropped.body)

    def clear(self) -> None:
        with self.lock:
            self.bodies.clear()
            self.size = 0


# 16 calendars of Google's budget a worker.
PROCESS_BYTES = 16 * 1_000_000
in_process = ProcessBodies(PROCESS_BYTES)


def kept_keys(version: FeedVersion) -> list[str]:
    """The keys kept_body() reads, for a caller to read them along with its own (found); none when nothing is kept,
    or when this process has the calendar."""
    if settings.FEED_BODY_CACHED_MAX_BYTES <= 0 or in_process.get(body_key(version)) is not None:
        return []
    return [body_key(version)]


def kept_body(version: FeedVersion, found: dict | None = None) -> KeptBody | None:
    """The bytes this version was last sent as, None if none are kept (or the cache is unreachable). found: the
    cache's values of kept_keys(version), if the caller read them (None: read here)."""
    if settings.FEED_BODY_CACHED_MAX_BYTES <= 0:
        return None
    name = body_key(version)
    kept = in_process.get(name)
    if kept is not None:
        return kept
    try:
        # found holds what the cache had of it, when it was read along; else it is read now.
        kept = found[name] if found is not None and name in found else cache.get(name)
    except RedisError:
        logger.exception("The cache is unreachable: a feed's calendar is written again.")
        return None
    if not isinstance(kept, KeptBody):
        return None
    in_process.put(name, kept)
    return kept


def kept_once_complete(chunks: Iterator[bytes], version: FeedVersion, slot_count) -> Iterator[bytes]:
    """The chunks as they come; once the last has gone and if they hold at most FEED_BODY_CACHED_MAX_BYTES, kept
    under the version with slot_count() (read then: the rows are counted as they stream). A larger calendar
    stops being gathered as soon as it passes the bound, so what is held never exceeds it."""
    bound = settings.FEED_BODY_CACHED_MAX_BYTES
    gathered: list[bytes] | None = [] if bound > 0 else None
    size = 0
    for chunk in chunks:
        if gathered is not None:
            size += len(chunk)
            if size <= bound:
                gathered.append(chunk)
            else:
                gathered = None
        yield chunk
    # Reached only when the stream ended: a client that goes away closes the generator at its yield, and a
    # failure raises through it.
    if gathered is not None:
        keep(version, KeptBody(b"".join(gathered), slot_count()))


def keep(version: FeedVersion, kept: KeptBody) -> None:
    in_process.put(body_key(version), kept)
    try:
        cache.set(body_key(version), kept, timeout=FEED_BODY_CACHED_SECONDS)
    except RedisError:
        logger.exception("The cache is unreachable: a feed's calendar is not kept.")


def body_key(version: FeedVersion) -> str:
    return "feed_body_" + version.etag.strip('"')
