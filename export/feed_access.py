"""The feed a secret opens, kept in the shared cache: a poll of a feed that exists reads no row.

feed_for_secret() (export/feed_secrets.py) is the one query that decides what a secret opens: the feed, its owner
active, its group still theirs to see. Its answer is kept under the secret's hash beside that hash's
generation, which is read before the query. Whatever can close a secret or change what it opens gives the
hashes it touches a new generation, at once and again once its transaction commits (export/signals.py: the
feed saved, rotated or deleted; its owner saved, deactivated say; its group saved, or the owner's membership
of it changed): an entry of another generation, or with none, is not used, and the query decides again. So a
secret revoked, rotated away or out of its group's reach opens nothing from the next request on, as without
the cache. An unknown secret is never kept: a guess costs its query and fills no cache. A change made past the
service (SQL by hand, a queryset's update() of users or groups) shows once the entry expires,
FEED_ACCESS_CACHED_SECONDS at most; a cache that cannot be reached sends every fetch to the query.
"""
import logging
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from redis.exceptions import RedisError

from export.feed_secrets import feed_for_secret, secret_hash
from export.models import CalendarFeed
from export.shared_cache import fresh_generation, renew_generations

logger = logging.getLogger(__name__)

FEED_ACCESS_CACHED_SECONDS = 10 * 60


def access_keys(secret: str) -> list[str]:
    """The keys opened_feed() reads, for a caller to read them along with its own (found)."""
    digest = secret_hash(secret)
    return [access_key(digest), generation_key(digest)]


def opened_feed(secret: str, found: dict | None = None) -> CalendarFeed:
    """feed_for_secret(secret), from the cache while nothing it depends on has changed; CalendarFeed.DoesNotExist
    as it raises it. found: the cache's values of access_keys(secret), if the caller read them (None: read here)."""
    entry_key, gen_key = access_keys(secret)
    try:
        if found is None:
            found = cache.get_many([entry_key, gen_key])
        generation, entry = found.get(gen_key), found.get(entry_key)
        if entry is not None and generation is not None and entry[0] == generation:
            return entry[1]
    except RedisError:
        logger.exception("The cache is unreachable: a feed's secret is looked up in the database.")
        return feed_for_secret(secret)
    feed = feed_for_secret(secret)
    try:
        if generation is None:
            # Only now, for a secret that opens a feed. Added, not set: a change that gave the hash a generation
            # since the read above wins, and this answer, maybe older than that change, is not kept.
            generation = fresh_generation()
            if not cache.add(gen_key, generation, timeout=FEED_ACCESS_CACHED_SECONDS):
                return feed
        cache.set(entry_key, (generation, feed), timeout=FEED_ACCESS_CACHED_SECONDS)
    except RedisError:
        logger.exception("The cache is unreachable: a feed's secret is not remembered.")
    return feed


def access_changed(hashes: Iterable[str]) -> None:
    """What these secrets' hashes open may have changed: their kept answers are not used again. Now, and again once
    the transaction commits: an answer read in between, of the rows as they were, must not outlive it."""
    hashes = set(hashes)
    if hashes:
        renewed(hashes)
        transaction.on_commit(lambda: renewed(hashes))


def renewed(hashes: set[str]) -> None:
    # A generation outlives every entry of the one before: an entry lives FEED_ACCESS_CACHED_SECONDS at most.
    renew_generations(map(generation_key, hashes), timeout=FEED_ACCESS_CACHED_SECONDS,
                      unreachable=f"what feeds' secrets open may be kept for {FEED_ACCESS_CACHED_SECONDS} s more.",
                      log=logger)


def access_key(digest: str) -> str:
    return f"feed_access_{digest}"


def generation_key(digest: str) -> str:
    return f"feed_access_generation_{digest}"
