"""The rates one client address, one user or one feed may not exceed, counted in the shared cache."""
import functools
import hashlib
import logging
import math
import re
from collections.abc import Iterable

from redis.exceptions import RedisError
from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from export import metrics
from export.api.audit import client_address
from export.shared_cache import loaded, redis_client

# The logger keeps the name it had before the module moved into export/api/: log routing matches on it.
logger = logging.getLogger("export.throttling")


def fails_open(answer):
    """When the shared cache cannot be reached, the decorated method of a limit lets the request through
    with this answer, and says so in the log: Redis down must not take the API down with it."""

    def decorate(method):
        @functools.wraps(method)
        def guarded(limit, *args, **kwargs):
            try:
                return method(limit, *args, **kwargs)
            except RedisError:
                # The limit's own class: a method inherited from a base class says which limit let it through.
                logger.exception(
                    "The cache is unreachable: %s.%s lets the request through.", type(limit).__name__, method.__name__
                )
                return answer

        return guarded

    return decorate


class CountingRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle, its history kept as one counter changed by atomic cache operations.

    SimpleRateThrottle reads a list of request times and writes it back: concurrent requests in several
    workers overwrite each other's entries and go uncounted. Here each request is one add or incr of a
    counter that lives for the rate's period from the first request it counts; once it passes the rate,
    requests are refused until it expires, and Retry-After says when that is.
    """

    # found: what was read of read_along, the keys of other values a request reads from the cache next, in the same
    # round trip as the count (on Redis); None when they were not read.
    found: dict | None = None

    def __init__(self, read_along: Iterable[str] = ()):
        super().__init__()
        self.read_along = list(read_along)

    def get_rate(self):
        # Read when the throttle is made, not when DRF's module is imported (its THROTTLE_RATES is):
        # the settings in force apply.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def parse_rate(self, rate):
        """DRF's "<count>/<period>", the period also a multiple of its unit: "10/15min"."""
        if rate is None:
            return (None, None)
        count, period = rate.split("/")
        multiple, unit = re.fullmatch(r"(\d*)(\w+)", period.strip()).groups()
        num_requests, duration = super().parse_rate(f"{count}/{unit}")
        return num_requests, duration * int(multiple or 1)

    @fails_open(True)
    def allow_request(self, request, view=None):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        return self.key is None or self.counted(self.within_rate(self.key))

    @fails_open(True)
    def allow(self, ident) -> bool:
        """allow_request() for a count the request does not name: a feed's, or its owner's."""
        if self.rate is None:
            return True
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}
        return self.counted(self.within_rate(self.key))

    def counted(self, allowed: bool) -> bool:
        """The answer, a refusal counted in the metrics under the limit's scope: every refusal of every limit
        comes through here, whoever turns it into a 429."""
        if not allowed:
            metrics.refused(self.scope)
        return allowed

    def within_rate(self, key: str) -> bool:
        """Whether a request counted under key may go on: a rate of requests counts it here (a rate of
        failures only reads its count, FailedAuthenticationThrottle)."""
        return self.count(key) <= self.num_requests

    def count(self, key: str) -> int:
        """Count one more against key; the count of its current period."""
        shared = redis_client()
        if shared is not None:
            return self.counted_on_redis(key, *shared)
        if self.cache.add(key, 1, self.duration):
            self.cache.set(f"{key}:since", self.timer(), self.duration)
            return 1
        try:
            count = self.cache.incr(key)
        except ValueError:
            # The period ended between the add and the incr.
            return self.count(key)
        if count == 1:
            # Redis's INCR recreated a key that expired just after Django's incr checked it, without an
            # expiry: give it one, or it would count forever.
            self.cache.touch(key, self.duration)
        return count

    def counted_on_redis(self, key: str, client, cache) -> int:
        """count() in one round trip: the counter made with the period's expiry if it is missing, and incremented,
        together (MULTI/EXEC: it cannot expire in between), and the keys of read_along read with them. The
        period's start is written by its first request."""
        name = cache.make_and_validate_key(key)
        pipeline = client.pipeline().set(name, 0, ex=self.duration, nx=True).incr(name)
        if self.read_along:
            pipeline.mget([cache.make_and_validate_key(other) for other in self.read_along])
        created, count, *read = pipeline.execute()
        if self.read_along:
            self.found = loaded(cache, self.read_along, read[0])
        if created:
            self.cache.set(f"{key}:since", self.timer(), self.duration)
        return count

    def wait(self) -> int:
        """Whole seconds until the current period of self.key ends."""
        since = self.cache.get(f"{self.key}:since")
        remaining = self.duration if since is None else since + self.duration - self.timer()
        return max(1, math.ceil(remaining))


class UserRateThrottle(CountingRateThrottle):
    """A rate of the authenticated user's requests."""

    def get_cache_key(self, request, view):
        if not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ExportRateThrottle(UserRateThrottle):
    """Exports and imports per user (THROTTLE_EXPORT_RATE), and the full fetches of the user's feeds
    (counted with allow(), under the feed owner's id)."""

    scope = "export"


class FeedChangeThrottle(UserRateThrottle):
    """Feeds created, changed, rotated or deleted per user (THROTTLE_FEED_CHANGE_RATE)."""

    scope = "feed_change"


class FeedFetchThrottle(CountingRateThrottle):
    """Fetches of one feed, whatever their answer and whoever sends them (THROTTLE_FEED_FETCH_RATE), counted
    with allow() under the feed's id. Not per address: calendar services poll feeds from a few shared ones."""

    scope = "feed_fetch"


class AddressThrottled(exceptions.Throttled):
    default_detail = "Too many failed authentications from this address."


class FailedAuthenticationThrottle(CountingRateThrottle):
    """Failed authentications per client address (THROTTLE_FAILED_AUTH_RATE).

    Unlike DRF's throttles, asking whether a request may go on counts nothing: only a failure counts.
    Past the rate, every request from the address is refused before its credential is looked up, a
    valid one too.
    """

    scope = "failed_authentication"

    def get_cache_key(self, request, view=None):
        # REMOTE_ADDR, or behind NUM_PROXIES proxies the address they saw (export/api/audit.py). Requests
        # without a usable address (a real server always gives one) share one count.
        return self.cache_format % {"scope": self.scope, "ident": client_address(request) or "unknown"}

    def within_rate(self, key: str) -> bool:
        if not self.read_along:
            return self.cache.get(key, 0) < self.num_requests
        values = self.cache.get_many([key, *self.read_along])
        self.found = {name: values[name] for name in self.read_along if name in values}
        return values.get(key, 0) < self.num_requests

    @fails_open(None)
    def failed(self, request) -> None:
        if self.rate is not None:
            self.count(self.get_cache_key(request))


def address_throttle(request, read_along: list[str] = ()) -> FailedAuthenticationThrottle:
    """The failed-authentication throttle of the request's address, to count a failure with;
    AddressThrottled (429) if the address is past its rate already. The keys of read_along, what the request reads
    next, are read in the same round trip: what was found of them is in its found (None if they were not read)."""
    throttle = FailedAuthenticationThrottle(read_along)
    if not throttle.allow_request(request):
        raise AddressThrottled(throttle.wait())
    return throttle


class FailedAdminLoginThrottle(FailedAuthenticationThrottle):
    """Failed admin logins per client address (THROTTLE_ADMIN_LOGIN_ADDRESS_RATE), counted apart from the
    API's failures: a password guess and a token guess are not worth the same."""

    scope = "admin_login_address"


class FailedAdminLoginUsernameThrottle(FailedAuthenticationThrottle):
    """Failed admin logins per username, from any address (THROTTLE_ADMIN_LOGIN_USERNAME_RATE): a guesser
    with many addresses still has only so many guesses at one password."""

    scope = "admin_login_username"

    def __init__(self, username: str):
        super().__init__()
        self.username = username

    def get_cache_key(self, request, view=None):
        # Hashed: a username is whatever the client typed, a cache key must be short and plain. Folded:
        # "Boss" and "boss" share one count, whichever of them exists.
        ident = hashlib.sha256(self.username.casefold().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

    @fails_open(None)
    def forget(self, request) -> None:
        key = self.get_cache_key(request)
        self.cache.delete_many([key, f"{key}:since"])


class FeedFetchesThrottled(exceptions.Throttled):
    default_detail = "Too many fetches of this feed."


class OwnerExportsThrottled(exceptions.Throttled):
    default_detail = "Too many exports of this feed's owner."


def refuse_too_many_fetches(feed, read_along: list[str] = ()) -> dict | None:
    """Count one fetch of the feed; FeedFetchesThrottled (429) past its rate. The keys of read_along, what the
    fetch reads next, read in the same round trip on Redis: what was found of them, or None if they were not read."""
    return refuse_past_rate(FeedFetchThrottle(read_along), feed.pk, FeedFetchesThrottled)


def refuse_too_many_exports(user, read_along: list[str] = ()) -> dict | None:
    """Count one export of the user's (a feed's calendar sent), OwnerExportsThrottled (429) past their rate; the
    keys of read_along read along, as refuse_too_many_fetches() reads them."""
    return refuse_past_rate(ExportRateThrottle(read_along), user.pk, OwnerExportsThrottled)


def refuse_past_rate(throttle: CountingRateThrottle, ident, refusal: type[exceptions.Throttled]) -> dict | None:
    """Count one more under ident, refusal (429) past the rate; what was read along with the count."""
    if not throttle.allow(ident):
        raise refusal(throttle.wait())
    return throttle.found
