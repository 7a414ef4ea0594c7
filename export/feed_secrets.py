"""A feed's secret, and the feed it opens.

The secret is the only credential a calendar app can send (it has no
Authorization header), so it is long, random, stored only as a hash, and
shown to its owner once.
"""
import hashlib
import hmac
import secrets

from django.db.models import Exists, OuterRef, Q

from export.models import CalendarFeed
from slots.models import SlotGroup


def new_secret() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    # A plain hash is enough: the secret has 256 bits of entropy, nothing to guess from a dictionary.
    return hashlib.sha256(secret.encode()).hexdigest()


def feed_for_secret(secret: str) -> CalendarFeed:
    """The feed this secret opens; CalendarFeed.DoesNotExist for an unknown or revoked secret, an
    inactive owner, or a group the owner can no longer see: all alike to the caller. One read, by the
    secret's unique index, with the owner, the group and whether the owner still sees it."""
    digest = secret_hash(secret)
    # As group_visible_to() decides it: the group's owner or one of its members.
    visible = SlotGroup.objects.filter(Q(owner=OuterRef("owner")) | Q(members=OuterRef("owner")), pk=OuterRef("group"))
    feed = (
        CalendarFeed.objects.select_related("owner", "group")
        # Not needed, and the feed is kept in the cache (export/feed_access.py): no password hash goes there.
        .defer("owner__password")
        .filter(Q(group__isnull=True) | Exists(visible), secret_hash=digest)
        .first()
    )
    # The index finds the row; the comparison that decides runs in constant time all the same.
    if feed is None or not hmac.compare_digest(feed.secret_hash, digest) or not feed.owner.is_active:
        raise CalendarFeed.DoesNotExist
    return feed
