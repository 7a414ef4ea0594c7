import functools
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def default_time_zone() -> str:
    return settings.TIME_ZONE


@functools.cache
def iana_time_zones() -> frozenset[str]:
    # Reading the tz database's index is slow; it does not change while the process runs.
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(name: str) -> None:
    if name not in iana_time_zones():
        raise ValidationError(f"{name!r} is not an IANA time zone.")


class SlotGroup(models.Model):
    """A named set of slots that its owner shares with its members."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="owned_slot_groups"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="slot_groups"
    )
    # The uuid a backup gave the group this one was imported as, when that was not a group its
    # owner could see: the group itself keeps a uuid of the server's choosing (a file must not
    # choose one, nor learn whether it exists), and re-importing the backup finds this group again.
    source_uuid = models.UUIDField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "uuid")
        constraints = [
            # Serves the import's lookup of a backup's group it has seen before (NULLs never clash).
            models.UniqueConstraint(fields=["owner", "source_uuid"], name="slot_group_source_uuid_once_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name


class Slot(models.Model):
    """One entry of a person's plans: a title, a start, an optional end."""

    class Visibility(models.TextChoices):
        PRIVATE = "private", "Private"
        FRIENDS = "friends", "Friends"
        PUBLIC = "public", "Public"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    start = models.DateTimeField()
    # No end means an open end (docs/calendar-format.md says how it is exported).
    end = models.DateTimeField(null=True, blank=True)
    all_day = models.BooleanField(default=False)
    location = models.CharField(max_length=255, blank=True, default="")
    # Where the slot's wall-clock times live: CSV exports write local times in it.
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    # The UID of the event a slot was imported from, when that was not one of
    # the user's own slots: re-importing the same file then updates, not duplicates.
    source_uid = models.CharField(max_length=255, blank=True, default="", editable=False)
    # For an occurrence of a repeating event (source_uid names the occurrence): the series' UID, as
    # source_uid keeps a UID. A newer import of the series removes the occurrences it no longer has.
    source_series = models.CharField(max_length=255, blank=True, default="", editable=False)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="slots"
    )
    groups = models.ManyToManyField(SlotGroup, blank=True, related_name="slots")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("start", "uuid")
        indexes = [
            # Serves the export: filter on creator, order by start then uuid
            # (slots.selectors.slot_list), so rows stream without a sort; a window's
            # `until` bounds the scan. It also holds what a window's `from` tests (end,
            # all_day; keys, not INCLUDE, which SQLite lacks: after the unique uuid they
            # change no order), so the slot limit's count of a windowed export
            # (export.api.limits.refuse_too_many_slots) reads the index alone.
            models.Index(fields=["creator", "start", "uuid", "end", "all_day"], name="slot_creator_start_uuid"),
            # Serves the import's lookup of a series' occurrences within its window.
            models.Index(
                fields=["creator", "source_series", "start"],
                condition=~models.Q(source_series=""),
                name="slot_creator_series_start",
            ),
        ]
        constraints = [
            # Serves the import's lookup of an event it has seen before.
            models.UniqueConstraint(
                fields=["creator", "source_uid"],
                condition=~models.Q(source_uid=""),
                name="slot_source_uid_once_per_creator",
            ),
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="slot_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title
