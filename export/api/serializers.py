from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from export.models import CalendarFeed, FeedDetail
from export.windows import DOCUMENTED_FORM, BadBound, refuse_empty_window, window_bound
from slots.models import iana_time_zones


class StrictUUIDField(serializers.UUIDField):
    """A uuid given as a string; DRF's own field would also take an integer."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


# The original API documentation's own words (the existing clients know them), then what it left out.
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


@extend_schema_field({"type": "string", "pattern": DOCUMENTED_FORM})
class WindowBoundField(serializers.CharField):
    """One end of an export's time window (export/windows.py), given as a string (a string in the schema too:
    a date alone is one)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            raise serializers.ValidationError("Expected a string.")
        try:
            return window_bound(data)
        except BadBound as error:
            raise serializers.ValidationError(str(error))

    def to_representation(self, value):
        return value.isoformat()


WINDOW_HELP = (
    "Only the slots that overlap the window [from, until) are exported: those starting before `until` and "
    "ending after `from`; an open-ended slot overlaps everything after its start, and a zero-length one at "
    "`from` is inside. An ISO 8601 date (midnight UTC) or a date-time with an offset or Z. Either may be left out."
)


class SlotExportParameters(ExportParameters):
    """The exports' parameters: the group and the time window. `from` is a Python keyword, hence the class
    namespace's dict."""

    locals()["from"] = WindowBoundField(required=False, help_text=WINDOW_HELP + " Example: 2026-01-01.")
    until = WindowBoundField(
        required=False, help_text=WINDOW_HELP + " Must be after `from`. Example: 2026-02-01T00:00:00+01:00."
    )

    def validate(self, attrs):
        try:
            refuse_empty_window(attrs.get("from"), attrs.get("until"))
        except BadBound as error:
            raise serializers.ValidationError({"until": [str(error)]})
        # Another export's parameter would be ignored here, and the client believe it had its effect.
        misplaced = {
            name: [reason] for name, reason in OTHER_EXPORTS_PARAMETERS.items()
            if name in self.initial_data and name not in self.fields
        }
        if misplaced:
            raise serializers.ValidationError(misplaced)
        return attrs


# The parameters only some exports take, and what to tell a client that sends one to another.
OTHER_EXPORTS_PARAMETERS = {
    "parts": "Only the calendars (google, ical) come in parts.",
    "time_zone": "Only the CSV (outlook) takes a zone: a calendar and a backup name each slot's own.",
}


class CSVExportParameters(SlotExportParameters):
    """The parameters of the CSV export: the group, the window, and the one zone of its times, which the file
    cannot name."""

    # A choice, so the schema lists the zones the service knows.
    time_zone = serializers.ChoiceField(
        required=False, choices=sorted(iana_time_zones()),
        error_messages={"invalid_choice": '"{input}" is not an IANA time zone.'},
        help_text="IANA zone of every date and time in the file (a CSV names none: import it in the same zone); "
        "default the service's TIME_ZONE, the import's default too. All-day slots keep their dates.",
    )


class CalendarExportParameters(SlotExportParameters):
    """The calendar exports' (google, ical): the group, the window, and they also come in parts."""

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


FEED_WINDOW_HELP = (
    "Whole UTC days {side} the day of the fetch that the feed holds (a slot overlapping them is in); "
    "null: unbounded. The window moves at midnight UTC."
)


class FeedSettings(serializers.Serializer):
    """What a feed's owner sets when creating or changing it (POST /v1/feeds, PATCH /v1/feeds/<id>)."""

    past_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=100_000,
        help_text=FEED_WINDOW_HELP.format(side="before"),
    )
    future_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=100_000,
        help_text=FEED_WINDOW_HELP.format(side="after"),
    )
    detail_level = serializers.ChoiceField(
        required=False, choices=FeedDetail.choices,
        help_text="full: every slot as the export writes it; titles: no description, no location; busy: every "
        "summary \"Busy\", no description or location, CLASS:PRIVATE. Default full.",
    )


class FeedSerializer(serializers.ModelSerializer):
    """A feed as its owner sees it in GET /v1/feeds: never its secret, nor the secret's hash; and what it
    holds now."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    group = serializers.SlugRelatedField(
        slug_field="uuid", read_only=True, allow_null=True, help_text="null: every slot of the owner"
    )
    past_days = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=FEED_WINDOW_HELP.format(side="before")
    )
    future_days = serializers.IntegerField(
        read_only=True, allow_null=True, help_text=FEED_WINDOW_HELP.format(side="after")
    )
    # What it holds now, set on the feed by export.feeds.held() before it is shown.
    slot_count = serializers.IntegerField(read_only=True, help_text="The slots a fetch now sends.")
    bytes = serializers.IntegerField(
        read_only=True, allow_null=True,
        help_text="The length of the calendar a fetch now sends; null in a list when not measured yet (a list "
        "measures feeds of at most FEED_LIST_MEASURED_SLOTS slots in all, the others when they are next "
        "created, changed or listed).",
    )
    warnings = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="When the feed is over Google Calendar's budget (about 1,000,000 bytes), and how to fix it.",
    )

    fetch_clients = serializers.DictField(
        child=serializers.IntegerField(), read_only=True,
        help_text="The feed's fetches by the kind of client that sent them (google, microsoft, apple, open_source, "
        "other), told by its User-Agent; written once a FEED_FETCH_RECORD_SECONDS, as last_fetched_at is.",
    )

    class Meta:
        model = CalendarFeed
        fields = ("id", "group", "created_at", "last_fetched_at", "past_days", "future_days", "detail_level",
                  "slot_count", "bytes", "warnings", "fetch_clients")
        read_only_fields = ("detail_level",)
