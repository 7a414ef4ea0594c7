"""Subscription feeds: their secrets, the feed a secret opens, and the version of its calendar.

The secret is the only credential a calendar app can send (it has no
Authorization header), so it is long, random, stored only as a hash, and
shown to its owner once.
"""
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from export.api.limits import TooManyFeeds
from export.exports import SlotExport
from export.models import CalendarFeed, SlotChangeClock
from slots.models import SlotGroup
from slots.selectors import group_visible_to, slot_list


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    # A plain hash is enough: the secret has 256 bits of entropy, nothing to guess from a dictionary.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_feed(*, owner: AbstractBaseUser, group: SlotGroup | None) -> tuple[CalendarFeed, str]:
    """A new feed and its secret, which exists nowhere else from now on; TooManyFeeds (409) if the owner
    has FEED_MAX_PER_USER feeds already."""
    secret = new_secret()
    limit = settings.FEED_MAX_PER_USER
    with transaction.atomic():
        # The owner's row locked until the feed is written: two requests at once cannot both take the last place.
        get_user_model().objects.select_for_update().get(pk=owner.pk)
        if CalendarFeed.objects.filter(owner=owner).count() >= limit:
            raise TooManyFeeds(limit)
        return CalendarFeed.objects.create(owner=owner, group=group, secret_hash=secret_hash(secret)), secret


def rotate_feed(*, owner: AbstractBaseUser, uuid: UUID) -> str:
    """A new secret for the owner's feed, the old one dead at once; CalendarFeed.DoesNotExist if not theirs."""
    secret = new_secret()
    if not CalendarFeed.objects.filter(owner=owner, uuid=uuid).update(secret_hash=secret_hash(secret)):
        raise CalendarFeed.DoesNotExist
    return secret


def revoke_feed(*, owner: AbstractBaseUser, uuid: UUID) -> None:
    """Delete the owner's feed; CalendarFeed.DoesNotExist if not theirs."""
    deleted, _ = CalendarFeed.objects.filter(owner=owner, uuid=uuid).delete()
    if not deleted:
        raise CalendarFeed.DoesNotExist


def feed_for_secret(secret: str) -> CalendarFeed:
    """The feed this secret opens; CalendarFeed.DoesNotExist for an unknown or revoked secret, an
    inactive owner, or a group the owner can no longer see: all alike to the caller."""
    digest = secret_hash(secret)
    feed = CalendarFeed.objects.select_related("owner", "group").filter(secret_hash=digest).first()
    # The index finds the row; the comparison that decides runs in constant time all the same.
    if feed is None or not hmac.compare_digest(feed.secret_hash, digest) or not feed.owner.is_active:
        raise CalendarFeed.DoesNotExist
    if feed.group is not None:
        try:
            group_visible_to(user=feed.owner, uuid=feed.group.uuid)
        except SlotGroup.DoesNotExist:
            raise CalendarFeed.DoesNotExist
    return feed


@dataclass(frozen=True)
class FeedVersion:
    """What identifies one state of a feed's calendar, without reading its slots."""

    feed_uuid: UUID
    # The latest change that shows in the calendar; also its DTSTAMP, so the bytes of one state never vary.
    modified: datetime
    slot_count: int

    @property
    def etag(self) -> str:
        # Strong: one (feed, moment, count) is one byte sequence, DTSTAMP included.
        state = f"{self.feed_uuid}|{self.modified.isoformat(timespec='microseconds')}|{self.slot_count}"
        return '"%s"' % hashlib.sha256(state.encode()).hexdigest()[:32]


def feed_version(feed: CalendarFeed) -> FeedVersion:
    """The feed's version in two queries whatever its size: its slots' newest change and count, and the clock
    of the changes the slots left cannot show (deletions, group changes)."""
    slots = slot_list(user=feed.owner, group=feed.group).aggregate(newest=Max("updated_at"), count=Count("id"))
    moments = [
        slots["newest"],
        SlotChangeClock.moment_for(feed.owner_id),
        # The group's name is the calendar's name.
        feed.group.updated_at if feed.group else None,
        # An empty feed has changed since it was made, at least.
        feed.created_at,
    ]
    return FeedVersion(feed.uuid, max(moment for moment in moments if moment is not None), slots["count"])


def feed_export(feed: CalendarFeed, version: FeedVersion) -> SlotExport:
    return SlotExport(
        user=feed.owner, slots=slot_list(user=feed.owner, group=feed.group), group=feed.group, stamp=version.modified
    )


def record_fetch(feed: CalendarFeed) -> None:
    CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=timezone.now())
