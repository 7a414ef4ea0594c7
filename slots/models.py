import uuid

from django.conf import settings
from django.db import models


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "uuid")

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
            # (slots.selectors.slot_list), so rows stream without a sort.
            models.Index(fields=["creator", "start", "uuid"], name="slot_creator_start_uuid"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__isnull=True) | models.Q(end__gte=models.F("start")),
                name="slot_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title
