"""Subscription feeds, and the clock that tells them what no remaining slot can: that slots went away."""
import uuid
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from rest_framework.authtoken.models import TokenProxy

from export.formats.ical.mapping import DETAIL_BUSY, DETAIL_FULL, DETAIL_TITLES
from slots.models import SlotGroup


class FeedDetail(models.TextChoices):
    """What a feed tells of each slot: everything, its title and times, or only that the time is taken."""

    FULL = DETAIL_FULL, "Full"
    TITLES = DETAIL_TITLES, "Titles"
    BUSY = DETAIL_BUSY, "Busy"


class CalendarFeed(models.Model):
    """A secret URL a calendar app subscribes to: its owner's slots, all or one group's."""

    # The public id the API names a feed by; the secret is never stored.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds",
        # Covered by the (owner, created_at) index below.
        db_index=False,
    )
    # The scope: one group's slots, or every slot the owner created. Deleting the group deletes its
    # feeds: falling back to "every slot" would widen what a shared URL shows.
    group = models.ForeignKey(
        SlotGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    # sha256 hex of the secret: a database leak does not leak working URLs.
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    # The fetches answered 200 (GET or HEAD) and 304, counted in the cache and added here by the first fetch
    # of each FEED_FETCH_RECORD_SECONDS (export/fetch_counts.py): a poll writes nothing of its own.
    fetches_sent = models.PositiveBigIntegerField("fetches answered 200", default=0, editable=False)
    fetches_not_modified = models.PositiveBigIntegerField("fetches answered 304", default=0, editable=False)
    # The same fetches by the kind of client, from its User-Agent (export.fetch_counts.KINDS: google, microsoft,
    # apple, open_source, other), counted alike: {"google": 12, "apple": 3}.
    fetch_clients = models.JSONField("fetches by client", default=dict, editable=False)
    # The rolling window, in whole UTC days before and after the day of the fetch; null: unbounded.
    past_days = models.PositiveIntegerField(null=True, blank=True)
    future_days = models.PositiveIntegerField(null=True, blank=True)
    # How much of each slot the feed says (export/formats/ical/mapping.py).
    detail_level = models.CharField(max_length=8, choices=FeedDetail.choices, default=FeedDetail.FULL)
    # When the window or the detail last changed: the feed's calendar changed then, whatever its slots did.
    settings_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("created_at", "uuid")
        indexes = [
            # Serves GET /v1/feeds: the owner's feeds, oldest first. (secret_hash's unique index
            # serves the calendar's lookup by secret; uuid's, rotate and delete.)
            models.Index(fields=["owner", "created_at"], name="feed_owner_created"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} ({self.group or 'every slot'})"


class SlotChangeClock(models.Model):
    """When a user's slots last changed in a way no remaining slot's updated_at shows:
    a slot deleted, or a slot joining or leaving a group (export/signals.py)."""

    # The OneToOne's unique index serves the feed's lookup of its owner's clock.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slot_change_clock")
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user}: {self.at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def moment_for(cls, user_id: int) -> datetime | None:
        """The user's clock, None if nothing has moved it yet."""
        return cls.objects.filter(user_id=user_id).values_list("at", flat=True).first()

    @classmethod
    def bump(cls, user_ids: Iterable[int]) -> None:
        """Set the users' clocks to now, never backwards (a feed's Last-Modified must not go back)."""
        now = timezone.now()
        for user_id in user_ids:
            clock, created = cls.objects.get_or_create(user_id=user_id, defaults={"at": now})
            if not created:
                cls.objects.filter(pk=clock.pk, at__lt=now).update(at=now)


class ExportLog(models.Model):
    """One export, feed fetch or import, as an operator looks it up; written once, at its end."""

    class Kind(models.TextChoices):
        GOOGLE = "google"
        ICAL = "ical"
        OUTLOOK = "outlook"
        TIMESLOT = "timeslot"
        FEED = "feed"
        IMPORT = "import"
        COMMAND = "command"

    # Null when nobody is known: a command whose --user names no one. SET_NULL keeps the history of a
    # deleted user's exports; it does not carry their name on.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="export_logs",
        # Covered by the (user, created_at) index below.
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    group = models.ForeignKey(
        SlotGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="export_logs"
    )
    # The slots in what was sent (0 for a 304), and its size in bytes: the bytes sent, the file received
    # for an import.
    slot_count = models.PositiveIntegerField(default=0)
    bytes = models.PositiveBigIntegerField(default=0)
    duration = models.DurationField()
    # The HTTP status; for the export_slots command its exit status, 0 or 1.
    status = models.PositiveSmallIntegerField()
    # REMOTE_ADDR, or behind NUM_PROXIES proxies the address they saw (export/api/audit.py). None for the command.
    client_address = models.GenericIPAddressField(null=True, blank=True)
    # The id of the request (its X-Request-Id, timeslot/request_ids.py), to find its log lines and the client's
    # quote of an error. Empty for the command, and for rows written before requests had ids.
    request_id = models.CharField(max_length=128, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            # Serves the admin's export log: newest first, and its date filter and date hierarchy.
            models.Index(fields=["created_at"], name="exportlog_created"),
            # Serves the admin's log filtered to one user (the user's "export_logs"), newest first.
            models.Index(fields=["user", "created_at"], name="exportlog_user_created"),
            # Serves the lookup of one request's row by its id (the admin's search ORs it with the username and
            # email, and reads the rows it joins as before). An index of its own, not the field's db_index, which
            # on PostgreSQL also builds a second one for LIKE that no lookup uses.
            models.Index(fields=["request_id"], name="exportlog_request_id"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.user or 'unknown'} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class ApiToken(TokenProxy):
    """A user's API token as the admin shows it: a Token's str() is its whole key, which would reach the
    admin's titles, breadcrumbs and history (staff see who has a token, never the key)."""

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.user}'s token {self.key_start}"

    @property
    def key_start(self) -> str:
        """Enough of the key to tell two apart in a conversation with its owner."""
        return f"{self.key[:4]}…"
