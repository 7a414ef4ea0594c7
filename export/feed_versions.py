"""A feed's version kept in the shared cache, so that a poll finding nothing new reads none of its slots.

An entry is used while its owner's slots have not changed since: each change to them (a slot saved or
deleted, joining or leaving a group, an import's bulk writes; export/signals.py) gives the owner's feeds a
new generation, and an entry of another generation is not used. What else a version depends on (the feed's
window and detail, its group's name, the day a window is read on) is in the feed's row, which every fetch
reads: an entry is used only for the same. A change whose write reaches no signal (SQL by hand, a queryset's
update() of slots) shows once its entry expires, FEED_VERSION_CACHED_SECONDS at most.
"""
import logging
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from export.feeds import FeedVersion, feed_version, is_windowed, window_day
from export.models import CalendarFeed
from export.shared_cache import fresh_generation, renew_generations
from timeslot.db_routers import mark_written

logger = logging.getLogger(__name__)

FEED_VERSION_CACHED_SECONDS = 60 * 60


def cached_feed_version(feed: CalendarFeed, now: datetime | None = None, found: dict | None = None) -> FeedVersion:
    """feed_version(feed, now), from the cache when nothing it depends on has changed since it was put there.
    found: the cache's values of version_keys(feed), if the caller read them already (None: read here)."""
    day = window_day(now) if is_windowed(feed) else None
    state = (
        day, feed.past_days, feed.future_days, feed.detail_level, feed.created_at, feed.settings_changed_at,
        feed.group_id, feed.group.updated_at if feed.group else None,
    )
    entry_key, generation_key = version_key(feed), owner_generation_key(feed.owner_id)
    try:
        if found is None:
            found = cache.get_many([entry_key, generation_key])
        generation = found.get(generation_key)
        entry = found.get(entry_key)
        if entry is not None and generation is not None and entry[:2] == (generation, state):
            return entry[2]
        if generation is None:
            # Before the slots are read: a change committed after this read gives a generation other than it.
            generation = fresh_generation()
            cache.add(generation_key, generation, timeout=None)
    except RedisError:
        logger.exception("The cache is unreachable: a feed's version is read from the database.")
        return feed_version(feed, now)
    version = feed_version(feed, now)
    try:
        cache.set(entry_key, (generation, state, version), timeout=FEED_VERSION_CACHED_SECONDS)
    except RedisError:
        logger.exception("The cache is unreachable: a feed's version is not remembered.")
    return version


def slots_changed(user_ids) -> None:
    """The users' slots changed: their feeds' cached versions are not used again. Now, and again once the
    transaction commits: a version read in between, of the slots as they were, must not outlive it. Once it
    commits, the users read from the primary until a replica has it (timeslot/db_routers.py)."""
    user_ids = set(user_ids)
    if user_ids:
        new_generation(user_ids)
        transaction.on_commit(lambda: committed(user_ids))


def committed(user_ids: set[int]) -> None:
    # The mark first: a fetch that finds the new generation finds it too, and so reads no replica without it.
    mark_written(user_ids)
    new_generation(user_ids)


def new_generation(user_ids: set[int]) -> None:
    renew_generations(map(owner_generation_key, user_ids), timeout=None,
                      unreachable="feeds' cached versions may outlive a change to their slots.", log=logger)


def version_keys(feed: CalendarFeed) -> list[str]:
    """The keys cached_feed_version() reads."""
    return [version_key(feed), owner_generation_key(feed.owner_id)]


def version_key(feed: CalendarFeed) -> str:
    return f"feed_version_{feed.pk}"


def owner_generation_key(user_id: int) -> str:
    return f"feed_generation_{user_id}"
