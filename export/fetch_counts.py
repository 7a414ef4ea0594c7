"""A feed's fetch counts by answer (200, 304) and its last fetch: added up in the shared cache and written to
the feed's row only by the first fetch of each FEED_FETCH_RECORD_SECONDS (export.api.limits.FetchRecord), so
that the polls in between write nothing.

The counts waiting in the cache are those since the last write, of at most one interval: a worker's crash
loses none of them, a cache that loses its data (Redis restarted without it) loses those.
"""
import logging

from django.core.cache import cache
from django.db.models import F
from django.utils import timezone
from redis.exceptions import RedisError

from export.models import CalendarFeed

logger = logging.getLogger(__name__)

FIELDS = {200: "fetches_sent", 304: "fetches_not_modified"}


def count_fetch(feed: CalendarFeed, status: int, *, write: bool) -> None:
    """Count a fetch answered with status (200 or 304: others are not counted); with write, add every count
    waiting (this one's too) to the feed's row, and set its last_fetched_at."""
    field = FIELDS.get(status)
    try:
        if field is not None:
            add(key(feed, status))
        waiting = taken(feed) if write else {}
    except RedisError:
        # As FetchRecord does then: every fetch is written, this one alone.
        logger.exception("The cache is unreachable: a feed's fetch is written at once.")
        waiting, write = ({field: 1} if field else {}), True
    if write:
        CalendarFeed.objects.filter(pk=feed.pk).update(
            last_fetched_at=timezone.now(), **{field: F(field) + count for field, count in waiting.items()}
        )


def key(feed: CalendarFeed, status: int) -> str:
    return f"feed_fetches_{feed.pk}_{status}"


def add(name: str) -> None:
    # No expiry: a count waits for the feed's next fetch, however far off.
    try:
        cache.incr(name)
    except ValueError:
        if not cache.add(name, 1, timeout=None):
            cache.incr(name)


def taken(feed: CalendarFeed) -> dict[str, int]:
    """The counts waiting, taken out of the cache: a decrement by what was read keeps those that come meanwhile."""
    keys = {key(feed, status): field for status, field in FIELDS.items()}
    waiting = {}
    for name, count in cache.get_many(list(keys)).items():
        if count:
            cache.decr(name, count)
            waiting[keys[name]] = count
    return waiting
