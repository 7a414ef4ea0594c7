"""Subscription feeds: made, changed, rotated and revoked by their owners, and the version of their calendar.
Their secrets, and the feed a secret opens: export/feed_secrets.py."""
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import quote, urlsplit, urlunsplit
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from export.api.limits import TooManyFeeds
from export.exports import SlotExport
from export.feed_access import access_changed
from export.feed_secrets import new_secret, secret_hash
from export.models import CalendarFeed, SlotChangeClock
from export.renderers import ICalendarFeedRenderer
from slots.models import Slot, SlotGroup
from slots.selectors import in_window, overlaps_from, slot_list
from timeslot.db import write_transaction

logger = logging.getLogger("export.feeds")


def create_feed(*, owner: AbstractBaseUser, group: SlotGroup | None, **settings_) -> tuple[CalendarFeed, str]:
    """A new feed and its secret, which exists nowhere else from now on; TooManyFeeds (409) if the owner
    has FEED_MAX_PER_USER feeds already. settings_: its window (past_days, future_days) and detail_level."""
    secret = new_secret()
    limit = settings.FEED_MAX_PER_USER
    with write_transaction():
        # The owner's row locked until the feed is written: two requests at once cannot both take the last place
        # (SQLite locks no row: there, writers take turns, timeslot/db.py).
        get_user_model().objects.select_for_update().get(pk=owner.pk)
        if CalendarFeed.objects.filter(owner=owner).count() >= limit:
            raise TooManyFeeds(limit)
        feed = CalendarFeed.objects.create(owner=owner, group=group, secret_hash=secret_hash(secret), **settings_)
        return feed, secret


def change_feed(*, owner: AbstractBaseUser, uuid: UUID, **settings_) -> CalendarFeed:
    """The owner's feed with a new window or detail; CalendarFeed.DoesNotExist if not theirs."""
    feed = CalendarFeed.objects.select_related("owner", "group").get(owner=owner, uuid=uuid)
    changed = [name for name, value in settings_.items() if getattr(feed, name) != value]
    if changed:
        for name in changed:
            setattr(feed, name, settings_[name])
        # The calendar changed now, even if no slot did: its Last-Modified moves on, never back.
        feed.settings_changed_at = max(timezone.now(), feed.settings_changed_at)
        feed.save(update_fields=[*changed, "settings_changed_at"])
    return feed


def rotate_feed(*, owner: AbstractBaseUser, uuid: UUID) -> str:
    """A new secret for the owner's feed, the old one dead at once; CalendarFeed.DoesNotExist if not theirs."""
    secret = new_secret()
    with write_transaction():
        old_hash = CalendarFeed.objects.select_for_update().values_list("secret_hash", flat=True).get(
            owner=owner, uuid=uuid
        )
        CalendarFeed.objects.filter(owner=owner, uuid=uuid).update(secret_hash=secret_hash(secret))
        access_changed([old_hash])
    return secret


def revoke_feed(*, owner: AbstractBaseUser, uuid: UUID) -> None:
    """Delete the owner's feed; CalendarFeed.DoesNotExist if not theirs."""
    deleted, _ = CalendarFeed.objects.filter(owner=owner, uuid=uuid).delete()
    if not deleted:
        raise CalendarFeed.DoesNotExist


def window_day(now: datetime | None = None) -> date:
    """The UTC day a fetch at now reads the window against: the window moves once a day, so every fetch
    of one day gives the same calendar."""
    return (now or timezone.now()).astimezone(UTC).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def feed_window(feed: CalendarFeed, day: date | None) -> dict[str, datetime | None]:
    """The window [since, until) the feed holds on day, as slot_list takes it: from the start of the day
    past_days before to the end of the day future_days after (UTC); an unset side is open."""
    if day is None:
        return {}
    return {
        "since": None if feed.past_days is None else midnight(day - timedelta(days=feed.past_days)),
        "until": None if feed.future_days is None else midnight(day + timedelta(days=feed.future_days + 1)),
    }


def is_windowed(feed: CalendarFeed) -> bool:
    return feed.past_days is not None or feed.future_days is not None


@dataclass(frozen=True)
class FeedVersion:
    """What identifies one state of a feed's calendar, without reading its slots."""

    feed_uuid: UUID
    # The latest change that shows in the calendar; also its DTSTAMP, so the bytes of one state never vary.
    modified: datetime
    slot_count: int
    # The day the window was read against; None for a feed without one. Not part of the state: a day
    # on which the window's move lets no slot in or out gives the bytes of the day before.
    day: date | None
    detail: str

    @property
    def sendable(self) -> bool:
        """Whether a fetch of it is sent: at most EXPORT_MAX_SLOTS slots (else it is refused, 422)."""
        return self.slot_count <= settings.EXPORT_MAX_SLOTS

    @property
    def etag(self) -> str:
        # Strong: one (feed, moment, count, detail) is one byte sequence, DTSTAMP included. The moment
        # moves on the days the window's move lets a slot in or out (window_moved_at), so it also
        # tells one window's slots from another's.
        state = "|".join((
            str(self.feed_uuid), self.modified.isoformat(timespec="microseconds"), str(self.slot_count), self.detail,
        ))
        return '"%s"' % hashlib.sha256(state.encode()).hexdigest()[:32]


def feed_version(feed: CalendarFeed, now: datetime | None = None) -> FeedVersion:
    """The feed's version at now (the fetch's moment) in two queries whatever its size: its slots' newest
    change, the count of those in its window and the last move of the window that let one in or out,
    and the clock of the changes the slots left cannot show (deletions, group changes)."""
    day = window_day(now) if is_windowed(feed) else None
    window = feed_window(feed, day)
    # The newest change of every slot of the scope, not only the window's: a slot edited out of the
    # window would otherwise take its moment with it, and Last-Modified go back.
    slots = slot_list(user=feed.owner, group=feed.group).aggregate(
        newest=Max("updated_at"), count=Count("id", filter=in_window(**window)), **window_edges(window),
    )
    moments = [
        slots["newest"],
        SlotChangeClock.moment_for(feed.owner_id),
        # The group's name is the calendar's name.
        feed.group.updated_at if feed.group else None,
        # An empty feed has changed since it was made, at least; and whenever its window or detail changed.
        feed.created_at,
        feed.settings_changed_at,
        # The window's last move that dropped or added a slot: a change too, and a later one than any
        # before it, so Last-Modified still never goes back.
        window_moved_at(feed, slots),
    ]
    return FeedVersion(
        feed.uuid, max(moment for moment in moments if moment is not None), slots["count"], day, feed.detail_level
    )


def window_edges(window: dict[str, datetime | None]) -> dict[str, Max]:
    """The aggregates window_moved_at() reads: the latest start among the slots the window's future side
    has let in, and the latest ends and starts among those its past side has let out."""
    edges = {}
    if window.get("until") is not None:
        edges["entered_start"] = Max("start", filter=Q(start__lt=window["until"]))
    if window.get("since") is not None:
        gone = ~overlaps_from(window["since"])
        edges["left_end"] = Max("end", filter=gone)
        edges["left_start"] = Max("start", filter=gone)
        edges["left_all_day_start"] = Max("start", filter=gone & Q(all_day=True))
    return edges


def window_moved_at(feed: CalendarFeed, edges: dict) -> datetime | None:
    """The last midnight, up to the fetch's, at which the moving window let a slot in or out; None if it
    never did. A slot starting on day X enters on day X - future_days (the window then ends at the
    midnight after X); a slot leaves past_days after the first midnight by which it has ended, started
    (strictly: a zero-length slot is a point inside the window) and, if all-day, lasted its first day:
    the complement of overlaps_from(), day by day."""
    days = []
    if edges.get("entered_start") is not None:
        days.append(days_from(edges["entered_start"].astimezone(UTC).date(), -feed.future_days))
    last_reach = max(
        filter(None, (
            edges.get("left_end") and first_midnight_from(edges["left_end"]),
            edges.get("left_start") and edges["left_start"].astimezone(UTC).date() + timedelta(days=1),
            edges.get("left_all_day_start") and first_midnight_from(edges["left_all_day_start"] + timedelta(days=1)),
        )),
        default=None,
    )
    if last_reach is not None:
        days.append(days_from(last_reach, feed.past_days))
    days = [day for day in days if day is not None]
    return midnight(max(days)) if days else None


def first_midnight_from(moment: datetime) -> date:
    """The day whose midnight (UTC) is the first at or after moment."""
    day = moment.astimezone(UTC).date()
    return day if moment == midnight(day) else day + timedelta(days=1)


def days_from(day: date, days: int) -> date | None:
    # None beyond the calendar's ends: a window edge that far off moved before any slot was made.
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return None


def feed_slots(feed: CalendarFeed, version: FeedVersion) -> QuerySet[Slot]:
    return slot_list(user=feed.owner, group=feed.group, **feed_window(feed, version.day))


def feed_export(feed: CalendarFeed, version: FeedVersion) -> SlotExport:
    return SlotExport(
        user=feed.owner, slots=feed_slots(feed, version), group=feed.group, stamp=version.modified,
        detail=version.detail,
    )


def measured_bytes(feed: CalendarFeed, version: FeedVersion) -> int | None:
    """The length of the calendar a fetch of this version sends, written once per version: it is cached
    by the ETag, which names one byte sequence. None if a fetch would be refused for its size
    (EXPORT_MAX_SLOTS): measuring costs at most one export."""
    if not version.sendable:
        return None
    size = cached_bytes(version)
    if size is None:
        size = sum(map(len, feed_export(feed, version).chunks(ICalendarFeedRenderer())))
        try:
            cache.set(bytes_key(version), size, timeout=FEED_BYTES_CACHED_SECONDS)
        except RedisError:
            # Only a measure lost: the next list measures again, within its budget.
            logger.exception("The cache is unreachable: a feed's size is not remembered.")
    return size


def cached_bytes(version: FeedVersion) -> int | None:
    try:
        return cache.get(bytes_key(version))
    except RedisError:
        logger.exception("The cache is unreachable: a feed's size is measured again.")
        return None


def bytes_key(version: FeedVersion) -> str:
    return "feed_bytes_" + version.etag.strip('"')


# A measure is good until the feed changes, and then is never asked for again: a day bounds its stay.
FEED_BYTES_CACHED_SECONDS = 24 * 60 * 60
# Google Calendar drops a subscribed calendar larger than about this.
GOOGLE_BYTES_BUDGET = 1_000_000


def size_warnings(feed: CalendarFeed, version: FeedVersion, size: int | None) -> list[str]:
    fix = "narrow its window (past_days, future_days)" if is_windowed(feed) else (
        "give it a window (past_days, future_days), e.g. 30 days back and 365 ahead"
    )
    if not version.sendable:
        limit = settings.EXPORT_MAX_SLOTS
        return [f"The feed holds {version.slot_count:,} slots, more than a fetch sends ({limit:,}, EXPORT_MAX_SLOTS): "
                f"its fetches are refused. To fix it, {fix}."]
    if size is None or size <= GOOGLE_BYTES_BUDGET:
        return []
    return [
        f"The feed is {size:,} bytes, over Google Calendar's budget of about {GOOGLE_BYTES_BUDGET:,}: Google "
        f"stops updating a calendar that large. To fix it, {fix}, or split it by group."
    ]


def held(feed: CalendarFeed, now: datetime | None = None) -> CalendarFeed:
    """The feed with what a fetch at now would send (slot_count, bytes) and the warnings they call for."""
    version = feed_version(feed, now)
    size = measured_bytes(feed, version)
    feed.slot_count, feed.bytes, feed.warnings = version.slot_count, size, size_warnings(feed, version, size)
    return feed


def listed(feeds: Iterable[CalendarFeed], now: datetime | None = None) -> list[CalendarFeed]:
    """The feeds with what they hold, for a list: each measured if cached, or while the feeds written to
    measure them hold at most FEED_LIST_MEASURED_SLOTS slots in all; the others' bytes stay None."""
    budget = settings.FEED_LIST_MEASURED_SLOTS
    shown = []
    for feed in feeds:
        version = feed_version(feed, now)
        size = cached_bytes(version)
        if size is None and version.slot_count <= budget:
            size = measured_bytes(feed, version)
            budget -= version.slot_count
        feed.slot_count, feed.bytes, feed.warnings = version.slot_count, size, size_warnings(feed, version, size)
        shown.append(feed)
    return shown


def subscription_links(url: str) -> dict[str, str]:
    """The feed's URL in the forms calendar apps take: https:// (any app), webcal:// (Apple's and Outlook's
    "subscribe"), and Google's add-by-URL link, which takes webcal:// or http:// but not https://."""
    webcal = urlunsplit(("webcal", *urlsplit(url)[1:]))
    return {
        "url": url,
        "webcal_url": webcal,
        "google_url": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
    }
