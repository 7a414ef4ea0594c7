from rest_framework import serializers

from export.models import CalendarFeed


class StrictUUIDField(serializers.UUIDField):
    """A uuid given as a string; DRF's own field would also take an integer."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ExportParameters(serializers.Serializer):
    group = StrictUUIDField(
        required=False,
        help_text="Holds the uuid of the slot group which should be exported. "
        "If the parameter group is missing, all slots will be exported.",
    )


class FeedSerializer(serializers.ModelSerializer):
    """A feed as its owner sees it in GET /v1/feeds: never its secret, nor the secret's hash."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    group = serializers.SlugRelatedField(slug_field="uuid", read_only=True)

    class Meta:
        model = CalendarFeed
        fields = ("id", "group", "created_at", "last_fetched_at")
