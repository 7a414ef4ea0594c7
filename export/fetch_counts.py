"""A feed's fetch counts by answer (200, 304) and by the kind of client that fetched it, and its last fetch: added
up in the shared cache and written to the feed's row only by the first fetch of each FEED_FETCH_RECORD_SECONDS
(export.api.limits.FetchRecord), so that the polls in between write nothing.

The counts waiting in the cache are those since the last write, of at most one interval: a worker's crash
loses none of them, a cache that loses its data (Redis restarted without it) loses those.
"""
import logging
import re

from django.core.cache import cache
from django.db.models import F, Func, JSONField
from django.utils import timezone
from redis.exceptions import RedisError

from export.models import CalendarFeed
from export.shared_cache import redis_client

logger = logging.getLogger(__name__)

FIELDS = {200: "fetches_sent", 304: "fetches_not_modified"}

# The kinds of client a feed's fetches are counted by (CalendarFeed.fetch_clients), from the User-Agent
# header, tried in this order. From what these clients send:
# - Google Calendar's fetcher: "Google-Calendar-Importer", or "Mozilla/5.0 (compatible; Google-Calendar-Importer)";
# - Microsoft: Outlook for Windows "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0...)",
#   Outlook.com and Exchange Online "Microsoft Exchange/15.20 ...", Outlook for iOS and Android "Outlook-iOS/...";
# - Apple: iOS and macOS Calendar, "iOS/17.0 (21A329) dataaccessd/1.0", "macOS/14.0 (23A344) CalendarAgent/1000",
#   older "Mac OS X/10.8 (12A269) CalendarAgent/47" and "DAVKit/4.0.1 (730); CalendarStore/4.0.1 (973); iCal/4.0.1";
# - the open source apps: "Nextcloud Webcal Service", "ICSx5/2.2 (ical4j/3.2 okhttp/4.12 Android/14)" (DAVx5's
#   subscriptions), Thunderbird "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0",
#   "Evolution/3.50", GNOME Calendar;
# - other: anything else, a browser or curl, and no header at all.
CLIENT_KINDS = (
    ("google", re.compile(r"Google-Calendar-Importer", re.IGNORECASE)),
    ("microsoft", re.compile(r"Microsoft|Outlook|Exchange", re.IGNORECASE)),
    # Not "Mac OS X" alone, nor "iPhone": a browser on a Mac or an iPhone says so too.
    ("apple", re.compile(r"dataaccessd|CalendarAgent|CalendarStore|DAVKit|iCal/|\biOS/|\bmacOS/", re.IGNORECASE)),
    ("open_source", re.compile(r"Nextcloud|DAVx5|DAVdroid|ICSx5|ICSdroid|Thunderbird|Evolution|gnome-calendar",
                               re.IGNORECASE)),
)
OTHER = "other"
KINDS = (*(kind for kind, _ in CLIENT_KINDS), OTHER)


def client_kind(user_agent: str) -> str:
    """The kind of client a User-Agent header names (one of KINDS)."""
    for kind, pattern in CLIENT_KINDS:
        if pattern.search(user_agent):
            return kind
    return OTHER


def count_fetch(feed: CalendarFeed, status: int, *, write, client: str = OTHER) -> None:
    """Count a fetch answered with status (200 or 304: others are not counted) by a client of that kind; with
    write, add every count waiting (this one's too) to the feed's row, and set its last_fetched_at. write: True or
    False, or the fetch's FetchRecord, then taken here, in the same round trip as the counts on Redis."""
    field = FIELDS.get(status)
    try:
        names = [key(feed, status), client_key(feed, client)] if field is not None else []
        if not isinstance(write, bool):
            write = add(*names, record=write)
        elif names:
            add(*names)
        waiting, clients = taken(feed) if write else ({}, {})
    except RedisError:
        # As FetchRecord does then: every fetch is written, this one alone.
        logger.exception("The cache is unreachable: a feed's fetch is written at once.")
        waiting, clients, write = ({field: 1} if field else {}), ({client: 1} if field else {}), True
    if write:
        counts = {field: F(field) + count for field, count in waiting.items()}
        if clients:
            counts["fetch_clients"] = CountsAdded("fetch_clients", clients)
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=timezone.now(), **counts)


def key(feed: CalendarFeed, status: int) -> str:
    return f"feed_fetches_{feed.pk}_{status}"


def client_key(feed: CalendarFeed, client: str) -> str:
    return f"feed_clients_{feed.pk}_{client}"


def add(*names: str, record=None) -> bool:
    """One more under each name; and the record taken, if one is given: whether this fetch has it (else True).
    On Redis, one round trip for all: INCR makes a missing count at 0 first."""
    # No expiry: a count waits for the feed's next fetch, however far off.
    shared = redis_client()
    if shared is None:
        for name in names:
            try:
                cache.incr(name)
            except ValueError:
                if not cache.add(name, 1, timeout=None):
                    cache.incr(name)
        return record.take() if record is not None else True
    client, redis_cache = shared
    pipeline = client.pipeline(transaction=False)
    seconds = record.seconds() if record is not None else 0
    if seconds > 0:
        pipeline.set(redis_cache.make_and_validate_key(record.key), 1, ex=seconds, nx=True)
    for name in names:
        pipeline.incr(redis_cache.make_and_validate_key(name))
    answers = pipeline.execute()
    return bool(answers[0]) if seconds > 0 else True


def taken(feed: CalendarFeed) -> tuple[dict[str, int], dict[str, int]]:
    """The counts waiting, by field and by client kind, taken out of the cache: a decrement by what was read keeps
    those that come meanwhile."""
    fields = {key(feed, status): field for status, field in FIELDS.items()}
    kinds = {client_key(feed, kind): kind for kind in KINDS}
    waiting, clients = {}, {}
    for name, count in cache.get_many([*fields, *kinds]).items():
        if count:
            cache.decr(name, count)
            if name in fields:
                waiting[fields[name]] = count
            else:
                clients[kinds[name]] = count
    return waiting, clients


class CountsAdded(Func):
    """A JSON object of counts with these counts added to its keys, a missing key counting 0: computed by the
    database within the UPDATE, so that two writes at once both add theirs (with the cache unreachable, every
    fetch writes)."""

    output_field = JSONField()

    def __init__(self, field: str, counts: dict[str, int]):
        super().__init__(F(field))
        self.counts = counts

    def as_sql(self, compiler, connection, **extra):
        raise NotImplementedError(f"Feed client counts are not written on {connection.vendor}.")

    def as_postgresql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        pairs, values = [], []
        for kind, count in self.counts.items():
            pairs.append(f"%s, COALESCE(({column} ->> %s)::bigint, 0) + %s")
            values += [kind, *params, kind, count]
        return f"({column} || jsonb_build_object({', '.join(pairs)}))", [*params, *values]

    def as_sqlite(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        pairs, values = [], []
        for kind, count in self.counts.items():
            path = f'$."{kind}"'
            pairs.append(f"%s, COALESCE(json_extract({column}, %s), 0) + %s")
            values += [path, *params, path, count]
        return f"json_set({column}, {', '.join(pairs)})", [*params, *values]
