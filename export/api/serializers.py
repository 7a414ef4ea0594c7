from rest_framework import serializers

from export.models import CalendarFeed
from slots.models import validate_time_zone


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


class ExportParameters(serializers.Serializer):
    group = StrictUUIDField(required=False, help_text=GROUP_HELP)


class CSVExportParameters(ExportParameters):
    """The parameters of the CSV export: the group, and the one zone of its times, which the file cannot name."""

    time_zone = serializers.CharField(
        required=False, validators=[validate_time_zone],
        help_text="IANA zone of every date and time in the file (a CSV names none: import it in the same zone); "
        "default the service's TIME_ZONE, the import's default too. All-day slots keep their dates.",
    )


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
