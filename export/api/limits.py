"""The limits on one export: how many of a user's run at once, and how many slots one holds; how many
feeds a user has, and how often a feed's fetches write to the database."""
import logging
import time
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import exceptions, status

from export import metrics
from export.api.throttling import fails_open
from export.exports import SlotExport
from export.models import CalendarFeed

# The logger keeps the name it had before the module moved into export/api/: log routing matches on it.
logger = logging.getLogger("export.limits")

# A running export gives no hint of when it ends: a client refused for that retries after this.
EXPORTS_RUNNING_RETRY_AFTER = 5
# The metrics' name for this limit, beside the rates' scopes (export/metrics.py, THROTTLED).
EXPORTS_RUNNING_SCOPE = "export_concurrency"


class ExportsRunning(exceptions.Throttled):
    default_detail = "Too many exports of this user are running at once."


class TooManySlots(exceptions.APIException):
    """422 with a body that names the limit, as a number too: {"detail": "...", "max_slots": 250000}."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "too_many_slots"

    def __init__(self, limit: int):
        super().__init__(
            f"This export holds more than {limit:,} slots, the most one export may hold. Export one group at a time."
        )
        # DRF's handler sends a dict detail as it is; given to APIException, the number would become a string.
        self.detail = {"detail": self.detail, "max_slots": limit}


class TooManyFeeds(exceptions.APIException):
    """409 with a body that names the limit, as a number too: {"detail": "...", "max_feeds": 50}."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "too_many_feeds"

    def __init__(self, limit: int):
        super().__init__(f"This user has {limit:,} feeds, the most one user may have. Delete one first.")
        self.detail = {"detail": self.detail, "max_feeds": limit}


class ExportPlace:
    """One of a user's EXPORT_MAX_CONCURRENT places for a running export, held in the shared cache.

    Each place is a key of its own, taken with an atomic add and given back by deleting it. It expires
    EXPORT_HOLD_SECONDS after the stream last renewed it, so a worker that dies mid-export frees its
    place in time, and frees only its own: one counter with one expiry would either outlive a dead
    worker's exports or forget live ones, and a late decrement would then miscount the next exports.
    """

    def __init__(self, key: str | None, owner: str):
        self.key, self.owner = key, owner
        self.renew_at = time.monotonic() + settings.EXPORT_HOLD_SECONDS / 3
        self.released = False

    @classmethod
    def take(cls, user: AbstractBaseUser) -> "ExportPlace":
        """A free place of the user's; ExportsRunning (429) if every one is taken."""
        owner = uuid.uuid4().hex
        try:
            key = cls.free_key(user, owner)
        except RedisError:
            # As the throttles do (export/api/throttling.py, fails_open): Redis down must not take the API down.
            logger.exception("The cache is unreachable: an export of user %s goes on without a place.", user.pk)
            return cls(None, owner)
        if key is not None:
            return cls(key, owner)
        metrics.refused(EXPORTS_RUNNING_SCOPE)
        raise ExportsRunning(
            EXPORTS_RUNNING_RETRY_AFTER,
            f"{settings.EXPORT_MAX_CONCURRENT} exports of this user are running, the most at once.",
        )

    @staticmethod
    def free_key(user: AbstractBaseUser, owner: str) -> str | None:
        """The key of the place now taken for owner; None if every place is taken."""
        for place in range(settings.EXPORT_MAX_CONCURRENT):
            key = f"export_place_{user.pk}_{place}"
            if cache.add(key, owner, settings.EXPORT_HOLD_SECONDS):
                return key
        return None

    @fails_open(None)
    def renew(self) -> None:
        """Keep the place while the export streams; a cache call every third of the hold, not every chunk."""
        if self.key is not None and time.monotonic() >= self.renew_at:
            cache.touch(self.key, settings.EXPORT_HOLD_SECONDS)
            self.renew_at = time.monotonic() + settings.EXPORT_HOLD_SECONDS / 3

    @fails_open(None)
    def release(self) -> None:
        """Give the place back, once; not if it expired and another export took it since."""
        if not self.released and self.key is not None:
            self.released = True
            if cache.get(self.key) == self.owner:
                cache.delete(self.key)


def refuse_too_many_slots(export: SlotExport) -> int:
    """TooManySlots (422) if the export holds more than EXPORT_MAX_SLOTS slots; counts at most one more.
    The count, else: what is known of the export's size before its first byte."""
    limit = settings.EXPORT_MAX_SLOTS
    count = export.slots.order_by()[: limit + 1].count()
    if count > limit:
        raise TooManySlots(limit)
    return count


class FetchRecord:
    """Whether a fetch of a feed writes its export log row (of a calendar sent) and the fetch counts waiting
    in the cache (export/fetch_counts.py): only the first of every FEED_FETCH_RECORD_SECONDS does, so that
    whoever holds the URL cannot make the database write at the rate they fetch. A key of the feed's in the
    shared cache marks the interval as recorded."""

    def __init__(self, feed: CalendarFeed):
        self.key = f"feed_fetch_recorded_{feed.pk}"

    # Redis down: every fetch is recorded, as the rates let every request through then.
    @fails_open(True)
    def take(self) -> bool:
        """The interval's record for this fetch; False if another fetch has it (the add is atomic: of fetches
        that race, one has it). (export.fetch_counts.add() takes it too, with the counts.)"""
        seconds = self.seconds()
        return seconds <= 0 or cache.add(self.key, True, seconds)

    @staticmethod
    def seconds() -> int:
        """The interval; 0 or less: every fetch is recorded."""
        return settings.FEED_FETCH_RECORD_SECONDS
