from rest_framework import serializers

from export.models import CalendarFeed


class StrictUUIDField(serializers.UUIDField):
    """A uuid given as a string; DRF's own field would also take an integer."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# The seed's own words (the API documentation the existing clients know), then what it left out.
GROUP_HELP = (
    "Holds the uuid of the slot group which should be exported.\n\n"
    "If the parameter group is missing, all Slot will be exported.\n\n"
    "If the group uuid was not found, no Slot will be exported (the answer is 404).\n\n"
    "The user must own the group or be a member of it; only the slots the user created in it are exported."
)


PARTS_HELP = (
    "true: the calendar as a ZIP of parts that Google Calendar imports whole (EXPORT_PART_MAX_BYTES, 1,000,000 "
    "bytes by default, each), as `Accept: application/zip` asks, for clients that cannot set Accept."
)


class ExportParameters(serializers.Serializer):
    group = StrictUUIDField(required=False, help_text=GROUP_HELP)


class CalendarExportParameters(ExportParameters):
    """The calendar exports' (google, ical): they also come in parts."""

    parts = serializers.BooleanField(required=False, default=False, help_text=PARTS_HELP)


class ImportParameters(serializers.Serializer):
    """The fields of POST /v1/import besides its file."""

    group = StrictUUIDField(
        required=False,
        help_text="A slot group the user owns or belongs to. Without it, iCalendar and CSV slots go to the "
        'user\'s group "Imports" (made on first use) and a backup restores its own groups.',
    )
    time_zone = serializers.CharField(
        required=False, help_text="IANA zone for times the file does not place; default the service's TIME_ZONE."
    )


class FeedSerializer(serializers.ModelSerializer):
    """A feed as its owner sees it in GET /v1/feeds: never its secret, nor the secret's hash."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    group = serializers.SlugRelatedField(
        slug_field="uuid", read_only=True, allow_null=True, help_text="null: every slot of the owner"
    )

    class Meta:
        model = CalendarFeed
        fields = ("id", "group", "created_at", "last_fetched_at")
