"""What the OpenAPI schema (/v1/schema/) says that drf-spectacular cannot read from the views.

The token header as the security scheme, the bodies of every answer (the errors included), the
headers that go with them, and a curl line for each endpoint. The views apply these with
`extend_schema`; the four exports share one view, so ExportSchema fills in each format's parts.
"""
import copy

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from export.api.serializers import (
    GROUP_HELP,
    PARTS_HELP,
    WINDOW_HELP,
    CalendarExportParameters,
    CSVExportParameters,
    ExportParameters,
    FeedSerializer,
    FeedSettings,
    ImportParameters,
)
from export.windows import DOCUMENTED_FORM
from slots.models import Slot
from timeslot.request_ids import GIVEN, HEADER

JSON = "application/json"
# The demo group of fixtures/demo.json, so that an example tried against `make run` answers 200.
DEMO_GROUP = "5f0c1a52-8d1e-4c55-9a3e-2b7f4f3c9d01"
# The original API documentation showed its requests as sent to this host.
HOST = "https://example.org"


class LegacyTokenScheme(OpenApiAuthenticationExtension):
    """export.api.authentication.LegacyTokenAuthentication as an API key in the Authorization header."""

    target_class = "export.api.authentication.LegacyTokenAuthentication"
    name = "legacyToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "The user's API token in the `Authorization` header, in the form the existing clients send, "
                "`Token token=<key>` (also quoted: `Token token=\"<key>\"`), or in Django REST framework's "
                "`Token <key>`. Give the whole header value, e.g. "
                "`Token token=9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b`. "
                "A token in the query string or the body is never read. No token, an unknown one, another "
                "form or an inactive user: 401 with `WWW-Authenticate: Token`."
            ),
        }


# Bodies -----------------------------------------------------------------------------------------
# Serializers that only describe JSON the views build themselves; drf-spectacular names a
# component after each (Error, ImportResult, ...).


# Every error body says the id of the request it answers, as its X-Request-Id header does (timeslot/request_ids.py).
REQUEST_ID_HELP = ("The request's id, as the answer's `X-Request-Id` says it: quote it to the operators, whose "
                   "logs and export log name the request by it.")


def request_id_field() -> serializers.CharField:
    return serializers.CharField(help_text=REQUEST_ID_HELP)


class Error(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    request_id = request_id_field()


class ServerError(serializers.Serializer):
    error = serializers.CharField(help_text='Always "Server Error (500)": nothing of the cause is shown.')
    request_id = request_id_field()


# A field's errors keyed by its name, as DRF's validation answers them; `detail` where the whole
# request is at fault (a parse error, a limit). An object schema, not a component: its keys vary.
FIELD_ERRORS = {
    "type": "object",
    "description": 'Each field at fault with its messages, e.g. `{"group": ["Must be a valid UUID."]}`; '
    "`non_field_errors` for the request as a whole, or `detail`.",
    "properties": {
        "detail": {"type": "string"},
        "max_slots": {"type": "integer", "description": "EXPORT_MAX_SLOTS, when an export is over it."},
        "request_id": {"type": "string", "description": REQUEST_ID_HELP},
    },
    "required": ["request_id"],
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
}


class ImportProblem(serializers.Serializer):
    where = serializers.CharField(help_text='Where in the file, e.g. "line 13" or "record 2", or the field.')
    problem = serializers.CharField()


class ImportProblems(serializers.Serializer):
    problems = ImportProblem(many=True)
    request_id = request_id_field()


class ImportWarning(serializers.Serializer):
    where = serializers.CharField()
    warning = serializers.CharField()


class ImportedGroup(serializers.Serializer):
    uuid = serializers.UUIDField()
    name = serializers.CharField()


class ImportCalendar(serializers.Serializer):
    """One calendar of a ZIP, and the group its slots went to."""

    file = serializers.CharField(help_text="The calendar's path in the ZIP, e.g. `work@example.com.ics`.")
    group = ImportedGroup(help_text="The user's own group named after the calendar (X-WR-CALNAME, else the file's "
                          "name without `.ics`).")
    new_group = serializers.BooleanField(help_text="Whether this import made the group.")
    created = serializers.IntegerField(min_value=0)
    updated = serializers.IntegerField(min_value=0)
    unchanged = serializers.IntegerField(min_value=0)
    removed = serializers.IntegerField(min_value=0)


class ImportSeries(serializers.Serializer):
    uid = serializers.CharField(help_text="The repeating event's UID.")
    title = serializers.CharField(allow_blank=True)
    where = serializers.CharField(help_text='Where the series\' event is in the file, e.g. "line 12".')
    occurrences = serializers.IntegerField(
        min_value=0, help_text="The slots it made: its occurrences that start in `recurrence_window`."
    )
    capped = serializers.BooleanField(
        help_text="It has more occurrences in the window than `max_occurrences_per_series`; the first were imported."
    )


class RecurrenceWindow(serializers.Serializer):
    from_ = serializers.DateTimeField(help_text="IMPORT_RECURRENCE_PAST_DAYS (365) days before the import, UTC.")
    until = serializers.DateTimeField(help_text="IMPORT_RECURRENCE_FUTURE_DAYS (730) days after it (not included).")
    max_occurrences_per_series = serializers.IntegerField(
        min_value=1, help_text="IMPORT_MAX_OCCURRENCES_PER_SERIES: the most slots one repeating event makes."
    )
    max_occurrences = serializers.IntegerField(
        min_value=1, help_text="IMPORT_MAX_OCCURRENCES: the most slots one file makes (more: 422)."
    )

    def get_fields(self):
        # "from" is a keyword in Python: the field is declared as from_ and named in the JSON as the answer has it.
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class ImportResult(serializers.Serializer):
    created = serializers.IntegerField(min_value=0)
    updated = serializers.IntegerField(min_value=0)
    unchanged = serializers.IntegerField(min_value=0)
    removed = serializers.IntegerField(
        min_value=0, help_text="Slots of the file's repeating events, in the window, that the series no longer has."
    )
    warnings = ImportWarning(many=True, help_text="E.g. a repeating event with more occurrences than an import makes.")
    series = ImportSeries(many=True, help_text="Each repeating event of the file, and the slots it made.")
    recurrence_window = RecurrenceWindow(
        help_text="The occurrences a repeating event makes: those that start from `from` until `until`."
    )
    calendars = ImportCalendar(
        many=True, required=False,
        help_text="Only for a ZIP of calendars: each calendar in the ZIP's order; the counts above are their sums.",
    )


class ImportRequest(ImportParameters):
    file = serializers.FileField(
        help_text="iCalendar, the Outlook CSV or a Timeslot backup, or a ZIP of iCalendar files (Google Calendar's "
        "export); read by content."
    )


class SubscriptionLinks(serializers.Serializer):
    """The secret URL in the forms calendar apps take (README, "Subscribing")."""

    url = serializers.URLField(help_text="The subscription URL (https://): shown this once, only its hash is stored.")
    webcal_url = serializers.CharField(help_text="The same as webcal://, which Apple Calendar and Outlook open.")
    google_url = serializers.URLField(
        help_text="Google Calendar's add-by-URL link, `https://calendar.google.com/calendar/r?cid=` and the "
        "webcal:// URL encoded (Google's cid takes webcal:// or http://, not https://)."
    )


class NewFeedRequest(ExportParameters, FeedSettings):
    pass


class NewFeed(SubscriptionLinks, FeedSerializer):
    class Meta(FeedSerializer.Meta):
        fields = ("id", "url", "webcal_url", "google_url", "group", "created_at", "past_days", "future_days",
                  "detail_level", "slot_count", "bytes", "warnings")


class RotatedFeed(SubscriptionLinks):
    id = serializers.UUIDField()


class FeedLimit(serializers.Serializer):
    detail = serializers.CharField()
    max_feeds = serializers.IntegerField(help_text="FEED_MAX_PER_USER, the most feeds one user may have.")
    request_id = request_id_field()


class BackupGroup(serializers.Serializer):
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)


class BackupSlot(serializers.Serializer):
    uuid = serializers.UUIDField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    location = serializers.CharField(allow_blank=True)
    visibility = serializers.ChoiceField(choices=Slot.Visibility.choices)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True, help_text="null for an open end")
    all_day = serializers.BooleanField()
    time_zone = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    groups = BackupGroup(many=True)


class Backup(serializers.Serializer):
    format = serializers.ChoiceField(choices=["timeslot-export"])
    version = serializers.IntegerField()
    exported_at = serializers.DateTimeField()
    slots = BackupSlot(many=True)


# Headers ----------------------------------------------------------------------------------------


def header(name: str, codes: list[int], description: str, kind=OpenApiTypes.STR) -> OpenApiParameter:
    """A response header sent with these status codes."""
    return OpenApiParameter(
        name, kind, OpenApiParameter.HEADER, response=codes, required=True, description=description
    )


RETRY_AFTER = header(
    "Retry-After", [429, 503], "Seconds to wait before trying again.", kind=OpenApiTypes.INT
)
WWW_AUTHENTICATE = header("WWW-Authenticate", [401], "`Token`: the scheme this API takes.")
ALLOW = header("Allow", [405], "The methods this URL answers.")
PRIVATE = header("Cache-Control", [200], "`private`: a person's calendar, for no shared cache.")


def secret_not_stored(code: int) -> OpenApiParameter:
    return header("Cache-Control", [code], "`no-store`: the body holds the only copy of a secret URL.")


DOWNLOAD = header(
    "Content-Disposition", [200],
    '`attachment; filename="Timeslot-Export.ical"` (`.csv`, `.json`, the parts\' `.zip`); with a group, '
    "`Timeslot-Export-<group name>.ical`, the name made safe.",
)
# Sent only sometimes: not required.
OVER_BUDGET = OpenApiParameter(
    "Timeslot-Warning", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200], required=False,
    description='`over-import-budget; max-bytes=1000000; parts="Accept: application/zip"`, with a single '
    "calendar file larger than EXPORT_PART_MAX_BYTES, the most Google Calendar imports. Never with the ZIP.",
)
VALIDATORS = [
    header("ETag", [200, 304], "Strong; changes when a slot of the feed changes, joins or leaves it, when the feed's "
           "window or detail changes, and when its window moves (each day at midnight UTC)."),
    header("Last-Modified", [200, 304], "The feed's last change, in whole seconds; never goes backwards."),
    header("Cache-Control", [200, 304], "`private, max-age=900`: kept by the app a quarter of the REFRESH-INTERVAL "
           "without asking again, by no shared cache (the URL is a secret)."),
]
GROUP_QUERY = OpenApiParameter(
    "group", OpenApiTypes.UUID, OpenApiParameter.QUERY, description=GROUP_HELP + " (A body's `group` wins.)"
)
TIME_ZONE_QUERY = OpenApiParameter(
    "time_zone", OpenApiTypes.STR, OpenApiParameter.QUERY,
    description=CSVExportParameters().fields["time_zone"].help_text + " (A body's `time_zone` wins.)",
)
# The exports' window; a string, not a date-time, as a date alone is one too.
WINDOW_QUERY = [
    OpenApiParameter(
        name, OpenApiTypes.STR, OpenApiParameter.QUERY, pattern=DOCUMENTED_FORM,
        description=f"{WINDOW_HELP} (A body's `{name}` wins.) Example: {example}.",
    )
    for name, example in (("from", "2026-01-01"), ("until", "2026-02-01T00:00:00+01:00"))
]
PARTS_QUERY = OpenApiParameter(
    "parts", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description=PARTS_HELP + " (A body's `parts` wins.)"
)


# Answers ----------------------------------------------------------------------------------------


def json_error(description: str, body=Error) -> OpenApiResponse:
    return OpenApiResponse(body, description=description)


def errors(*codes: int, **described: str) -> dict:
    """The JSON answers with these status codes, each with its usual description unless given."""
    answers = {}
    for code in codes:
        body, description = ERRORS[code]
        answers[(code, JSON)] = json_error(described.get(f"e{code}", description), body)
    return answers


ERRORS = {
    400: (FIELD_ERRORS, "The body is not valid JSON (or multipart): `detail` says where."),
    401: (Error, "No token, a token header in another form, an unknown token, an inactive user."),
    404: (Error, '`{"detail": "Slot group not found."}`: the group does not exist, or the user neither '
                 "owns it nor belongs to it (the two are indistinguishable)."),
    405: (Error, "A method this URL does not answer."),
    406: (Error, "An `Accept` that excludes what this URL sends (`text/plain`, `application/octet-stream`, "
                 "`*/*` and no `Accept` at all are served; `application/zip` by the calendar's exports only)."),
    409: (Error, "Another import wrote the same slots at the same moment; nothing was written. Try again."),
    413: (Error, "A request body larger than the service accepts (DATA_UPLOAD_MAX_MEMORY_SIZE)."),
    415: (Error, "A body that is neither JSON nor a form."),
    422: (FIELD_ERRORS, "`group` is not a uuid string, or the JSON body is not an object: the body names "
                        "the field; or the export is larger than the configured slot limit: `detail` names it."),
    429: (Error, "Too many requests: failed authentications from this address, or requests of this user "
                 "(exports: at once or in a minute). `Retry-After` says when to try again."),
    500: (ServerError, "An error before the first byte of the file. An error after it cannot change the "
                       "status any more: the file then ends without its last line (`END:VCALENDAR`, `]}`)."),
    503: (Error, "The database is out of reach; nothing was read or written. `Retry-After` says when to try again."),
}
# Every endpoint that takes a token answers these.
TOKEN_ERRORS = (401, 405, 429, 503)
FEED_CHANGES_THROTTLED = (
    "Too many failed authentications from this address, or too many feeds created, rotated or deleted by this "
    "user (THROTTLE_FEED_CHANGE_RATE). `Retry-After` says when to try again."
)


def curl(description: str, command: str) -> str:
    """An endpoint's description with its request as the existing clients send it."""
    return f"{description}\n\n```sh\n{command}\n```"


def documented_curl(path: str) -> str:
    """The request of the original API documentation, which the existing clients send, to any export."""
    return (
        f'curl "{HOST}{path}" -d \'\' -X POST \\\n'
        '\t-H "Content-Type: application/json" \\\n'
        '\t-H "Accept: text/plain" \\\n'
        '\t-H "Authorization: Token token=<key>"'
    )


# The exports ------------------------------------------------------------------------------------

CALENDAR_EXAMPLE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Timeslot//Timeslot Export//EN\r\nCALSCALE:GREGORIAN\r\n"
    "METHOD:PUBLISH\r\nNAME:Timeslot\r\nX-WR-CALNAME:Timeslot\r\n"
    "BEGIN:VEVENT\r\nUID:0d6e2b1c-1111-4a1e-9c41-5b1f2d7a0001\r\n"
    "DTSTAMP:20261128T080000Z\r\nDTSTART:20261207T090000Z\r\nDTEND:20261207T113000Z\r\n"
    "SUMMARY:Kick-off\r\nLOCATION:Room 4.12\r\nCLASS:PRIVATE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
CSV_EXAMPLE = (
    "Subject,Start Date,Start Time,End Date,End Time,All Day Event,Description,Location,Private\r\n"
    "Kick-off,12/07/2026,09:00 AM,12/07/2026,11:30 AM,False,,Room 4.12,True\r\n"
)


class ExportFormat:
    """How the schema shows one export: its summary, what its file holds, its 200 body."""

    def __init__(self, summary: str, holds: str, body, example: OpenApiExample,
                 parameters=(GROUP_QUERY, *WINDOW_QUERY), e422: str | None = None):
        self.summary, self.holds, self.body, self.example = summary, holds, body, example
        # Its query parameters, and what a 422 means for it (EXPORT_422 unless given).
        self.parameters, self.e422 = parameters, e422


CALENDAR = (
    "every slot the user created, or only those in one group, as an iCalendar (RFC 5545) file: "
    "`text/calendar`, the slots' times in UTC.\n\nWith `Accept: application/zip` (or `parts=true`), the same "
    "calendar as a ZIP of parts that Google Calendar imports whole: `Timeslot-Export-001.ics`, `-002.ics`, "
    "..., each a complete calendar of at most EXPORT_PART_MAX_BYTES (1,000,000 by default), the events in "
    "order, cut only between events. An event larger than that alone is a part of its own."
)
EXPORT_FORMATS = {
    "google": ExportFormat(
        "The user's slots as an iCalendar file (Google Calendar)", CALENDAR, OpenApiTypes.BINARY,
        OpenApiExample("Calendar", value=CALENDAR_EXAMPLE, media_type="text/calendar", response_only=True),
    ),
    "ical": ExportFormat(
        "The user's slots as an iCalendar file (Apple Calendar)",
        "the same calendar as `/v1/export/google` (the original system's two names for it): " + CALENDAR,
        OpenApiTypes.BINARY,
        OpenApiExample("Calendar", value=CALENDAR_EXAMPLE, media_type="text/calendar", response_only=True),
    ),
    "outlook": ExportFormat(
        "The user's slots as the CSV that Outlook imports",
        "the same slots as the CSV that Outlook's and Google Calendar's imports read without mapping "
        "columns: `text/csv`, every date and time in the one zone `time_zone` (default the service's "
        "`TIME_ZONE`), all-day slots with their own dates.",
        OpenApiTypes.BINARY,
        OpenApiExample("CSV", value=CSV_EXAMPLE, media_type="text/csv", response_only=True),
        parameters=(GROUP_QUERY, *WINDOW_QUERY, TIME_ZONE_QUERY),
        e422="`group` is not a uuid string, `from` or `until` is not an ISO 8601 date or a date-time with an "
        "offset (or out of range), `until` is not after `from`, `time_zone` is not an IANA zone, or the JSON "
        "body is not an object: the body names the field; or the export (what the window holds) is larger "
        "than the configured slot limit: `detail` names it.",
    ),
    "timeslot": ExportFormat(
        "The user's slots as a JSON backup",
        "the same slots as a JSON backup of every field of every slot and the groups it belongs to; "
        "`POST /v1/import` restores it exactly.",
        Backup,
        OpenApiExample(
            "Backup", media_type=JSON, response_only=True, value={
                "format": "timeslot-export", "version": 1, "exported_at": "2026-11-28T08:00:00.123456Z",
                "slots": [{
                    "uuid": "0d6e2b1c-1111-4a1e-9c41-5b1f2d7a0001", "title": "Kick-off", "description": "",
                    "location": "Room 4.12", "visibility": "friends", "start": "2026-12-07T09:00:00Z",
                    "end": "2026-12-07T11:30:00Z", "all_day": False, "time_zone": "Europe/Lisbon",
                    "created_at": "2026-11-01T12:00:00.000001Z", "updated_at": "2026-11-20T12:00:00Z",
                    "groups": [{"uuid": DEMO_GROUP, "name": "Team offsite", "description": ""}],
                }],
            },
        ),
    ),
}
EXPORT_REQUESTS = [
    OpenApiExample("All", summary="The documented request: every slot", value={}, request_only=True, media_type=JSON),
    OpenApiExample("Group", summary="One group's slots", value={"group": DEMO_GROUP}, request_only=True,
                   media_type=JSON),
]
WINDOW_REQUEST = OpenApiExample(
    "Window", summary="One group's slots of January 2026", request_only=True, media_type=JSON,
    value={"group": DEMO_GROUP, "from": "2026-01-01", "until": "2026-02-01"},
)
EXPORT_422 = (
    "`group` is not a uuid string, `from` or `until` is not an ISO 8601 date or a date-time with an offset "
    "(or out of range), `until` is not after `from`, or the JSON body is not an object: the body names the "
    "field; or the export (what the window holds) is larger than the configured slot limit: `detail` names it."
)


class ExportSchema(AutoSchema):
    """The four exports are one view with a renderer each (export/api/urls.py): each gets its format's parts."""

    @property
    def export_format(self) -> ExportFormat:
        return EXPORT_FORMATS[self.view.export_kind]

    def get_operation_id(self):
        return f"export_{self.view.export_kind}"

    def get_summary(self):
        return self.export_format.summary

    def get_description(self):
        return curl(
            f"Returns {self.export_format.holds}\n\nThe parameters (`group`, `from`, `until`, and the CSV's "
            "`time_zone`) may come in a JSON body, a form body or the query string. The file streams: an error "
            "after its first byte ends it early instead of changing the status. The existing clients' request:",
            documented_curl(self.path),
        )

    def get_tags(self):
        return ["export"]

    @property
    def in_parts(self) -> bool:
        return self.view.parameters_class is CalendarExportParameters

    def get_request_serializer(self):
        return self.view.parameters_class

    def get_override_parameters(self):
        calendar = [PARTS_QUERY, OVER_BUDGET] if self.in_parts else []
        return [*self.export_format.parameters, *calendar, DOWNLOAD, PRIVATE, WWW_AUTHENTICATE, ALLOW, RETRY_AFTER]

    def get_examples(self):
        return [*EXPORT_REQUESTS, WINDOW_REQUEST, self.export_format.example]

    def get_response_serializers(self):
        return {
            200: OpenApiResponse(self.export_format.body, description="The file, streamed."),
            **errors(400, *TOKEN_ERRORS, 404, 406, 413, 415, 422, 500, e422=self.export_format.e422 or EXPORT_422),
        }


# The other endpoints: keyword arguments of their views' extend_schema --------------------------

IMPORT = dict(
    operation_id="import",
    summary="Read a calendar file back into the user's slots",
    description=curl(
        "Reads the iCalendar of Google Calendar, Outlook, Exchange, Apple Calendar and Thunderbird, the "
        "CSV of `/v1/export/outlook` or the backup of `/v1/export/timeslot`; the format is read from the "
        "content. An event whose UID is one of the user's slots updates it, any other becomes a new slot: "
        "importing a file twice changes nothing the second time. A repeating event becomes the slots of its "
        "occurrences in `recurrence_window`, each known by the series' UID and its original start; a newer "
        "export of it also removes the occurrences in the window that the series no longer has. One bad "
        "record rejects the whole file, and nothing is written. A ZIP (told by its first bytes, `PK`) is a "
        "calendar a `.ics` file, as Google Calendar exports them: each goes to the user's own group named after "
        "it (`X-WR-CALNAME`, else the file's name), made if missing, all in one transaction; one bad calendar and "
        "nothing is written (422, `where` naming the file and the line). `group` is not taken with a ZIP (422). "
        "The calendars may expand to `IMPORT_MAX_BYTES` in all (413) and hold `IMPORT_MAX_RECORDS` events; at "
        "most 1,000 files and 100 calendars, none encrypted, compressed otherwise than by deflate or more than "
        "100:1 (422), all told from the ZIP's directory before anything is expanded.",
        f'curl "{HOST}/v1/import" -X POST -H "Authorization: Token token=<key>" -F "file=@calendar.ics"',
    ),
    request={"multipart/form-data": ImportRequest},
    examples=[
        OpenApiExample(
            "Calendar", summary="A calendar with one event", request_only=True, media_type="multipart/form-data",
            value={"file": CALENDAR_EXAMPLE, "time_zone": "Europe/Lisbon"},
        ),
    ],
    parameters=[WWW_AUTHENTICATE, ALLOW, RETRY_AFTER],
    responses={
        200: OpenApiResponse(
            ImportResult, description="Imported: how many slots were created, updated, unchanged and removed, and "
            "what each repeating event made in the window.",
        ),
        **errors(
            400, *TOKEN_ERRORS, 404, 409, 413, 415, 422,
            e400="No `file` (`{\"file\": [...]}`), or a malformed multipart body (`detail`).",
            e404='`{"detail": "Slot group not found."}`: a `group` the user can\'t see.',
            e413="The file is larger than IMPORT_MAX_BYTES (64 MiB by default; a CSV or JSON file "
            "IMPORT_MAX_CSV_JSON_BYTES, 5 MiB), or a ZIP's calendars expand to more in all.",
            e415="Not a multipart body.",
        ),
        (422, JSON): OpenApiResponse(
            ImportProblems,
            description="The content: an unknown format, not UTF-8, too many records (IMPORT_MAX_RECORDS) or slots "
            "(IMPORT_MAX_OCCURRENCES), a bad record, a rule that repeats more often than daily or takes too long to "
            "expand, a malformed `group` or `time_zone`, a `group` with a ZIP, a ZIP that is damaged or out of "
            "bounds; each problem with where it is (in a ZIP: `work@example.com.ics line 12`).",
        ),
    },
)

FEED_LIST = dict(
    operation_id="feeds_list",
    summary="The user's subscription feeds",
    description=curl("Every feed of the user; never a secret.",
                     f'curl "{HOST}/v1/feeds" -H "Authorization: Token token=<key>"'),
    parameters=[WWW_AUTHENTICATE, ALLOW, RETRY_AFTER],
    responses={
        200: OpenApiResponse(FeedSerializer(many=True), description="The feeds, oldest first."),
        **errors(*TOKEN_ERRORS, 406),
    },
)
FEED_CREATE = dict(
    operation_id="feeds_create",
    summary="A new subscription feed",
    description=curl(
        "A secret URL that calendar apps subscribe to (they can't send a token): the calendar of "
        "`/v1/export/google`, or of one group. The URL is shown this once.",
        f'curl "{HOST}/v1/feeds" -X POST -H "Content-Type: application/json" '
        f'-H "Authorization: Token token=<key>" -d \'{{"group": "{DEMO_GROUP}"}}\'',
    ),
    request=NewFeedRequest,
    parameters=[GROUP_QUERY, secret_not_stored(201), WWW_AUTHENTICATE, ALLOW, RETRY_AFTER],
    examples=EXPORT_REQUESTS,
    responses={
        201: OpenApiResponse(NewFeed, description="The feed, with its URL."),
        **errors(400, *TOKEN_ERRORS, 404, 406, 413, 415, 422, e429=FEED_CHANGES_THROTTLED,
                 e422="`group` is not a uuid string, `past_days` or `future_days` not a whole number from 0, "
                 "`detail_level` not one of full, titles, busy, or the JSON body is not an object: the body names the "
                 "field."),
        (409, JSON): OpenApiResponse(
            FeedLimit, description="The user has FEED_MAX_PER_USER feeds (50 by default): `detail` and `max_feeds` "
            "name the limit. Delete one first.",
        ),
    },
)
FEED_ID = OpenApiParameter("feed_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The feed's `id`.")
NOT_THEIRS = "Another user's feed, or no feed with this id."
FEED_ROTATE = dict(
    operation_id="feeds_rotate",
    summary="A new secret URL for a feed",
    description=curl("The old URL is 404 at once: for a URL that leaked.",
                     f'curl "{HOST}/v1/feeds/<id>/rotate" -X POST -H "Authorization: Token token=<key>"'),
    request=None,
    parameters=[FEED_ID, secret_not_stored(200), WWW_AUTHENTICATE, ALLOW, RETRY_AFTER],
    responses={
        200: OpenApiResponse(RotatedFeed, description="The feed's new URL."),
        **errors(*TOKEN_ERRORS, 404, 406, e404=NOT_THEIRS, e429=FEED_CHANGES_THROTTLED),
    },
)
FEED_CHANGE = dict(
    operation_id="feeds_change",
    summary="Change a feed's window or detail",
    description=curl(
        "Sets the fields given, leaves the others; the URL stays. The next fetch sends the changed calendar, "
        "with a new `ETag` and a later `Last-Modified`. Counted in THROTTLE_FEED_CHANGE_RATE.",
        f'curl "{HOST}/v1/feeds/<id>" -X PATCH -H "Content-Type: application/json" '
        f'-H "Authorization: Token token=<key>" '
        f'-d \'{{"past_days": 30, "future_days": 365, "detail_level": "busy"}}\'',
    ),
    request=FeedSettings,
    parameters=[FEED_ID, header("Cache-Control", [200], "`no-store`: the feed's owner's alone."),
                WWW_AUTHENTICATE, ALLOW, RETRY_AFTER],
    responses={
        200: OpenApiResponse(FeedSerializer, description="The feed as it is now, with what it holds."),
        **errors(400, *TOKEN_ERRORS, 404, 406, 413, 415, 422, e404=NOT_THEIRS, e429=FEED_CHANGES_THROTTLED,
                 e422="`past_days` or `future_days` not a whole number from 0, `detail_level` not one of full, "
                 "titles, busy, or the JSON body is not an object: the body names the field."),
    },
)
FEED_DELETE = dict(
    operation_id="feeds_delete",
    summary="Revoke a feed",
    description=curl("Its URL is 404 from now on.",
                     f'curl "{HOST}/v1/feeds/<id>" -X DELETE -H "Authorization: Token token=<key>"'),
    parameters=[FEED_ID, WWW_AUTHENTICATE, ALLOW, RETRY_AFTER],
    responses={
        204: OpenApiResponse(description="Revoked."),
        **errors(*TOKEN_ERRORS, 404, 406, e404=NOT_THEIRS, e429=FEED_CHANGES_THROTTLED),
    },
)
FEED_CALENDAR = dict(
    operation_id="feed_calendar",
    summary="A feed's calendar, for calendar apps",
    description=curl(
        "No credentials: the secret in the URL is one. The calendar of `/v1/export/google` (or of the "
        "feed's group) with `REFRESH-INTERVAL` and `X-PUBLISHED-TTL` of an hour; `DTSTAMP` is the feed's "
        "last change, so one state always gives the same bytes. Revalidate with `If-None-Match` or "
        "`If-Modified-Since`. `HEAD` answers the same headers without the body.",
        f'curl "{HOST}/v1/feeds/<secret>.ics"',
    ),
    auth=[],
    parameters=[
        OpenApiParameter("secret", OpenApiTypes.STR, OpenApiParameter.PATH,
                         description="The secret part of the feed's `url`."),
        OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
                         description="The `ETag` of the copy the app has."),
        OpenApiParameter("If-Modified-Since", OpenApiTypes.STR, OpenApiParameter.HEADER,
                         description="The `Last-Modified` of the copy the app has (an HTTP date)."),
        *VALIDATORS, ALLOW, RETRY_AFTER,
    ],
    responses={
        200: OpenApiResponse(OpenApiTypes.BINARY, description="The calendar; never compressed."),
        304: OpenApiResponse(description="The app's copy is current (`If-None-Match`, or `If-Modified-Since`)."),
        412: OpenApiResponse(description="An `If-Match` or `If-Unmodified-Since` the feed does not meet."),
        **errors(
            404, 405, 422, 429, 503,
            e404='`{"detail": "Not found."}` for an unknown, revoked or rotated-away secret, a group gone or '
                 "no longer visible to the owner, an inactive owner: the same for all.",
            e422="The feed holds more than the configured slot limit: `detail` and `max_slots` name it.",
            e429="Too many wrong secrets from this address; too many fetches of this feed, whatever their "
                 "answer (THROTTLE_FEED_FETCH_RATE); a calendar to send when its owner is past their export rate "
                 "(THROTTLE_EXPORT_RATE, which counts the calendars feeds send, not revalidations); or too many "
                 "of the owner's exports running at once. `Retry-After` says when to try again.",
        ),
    },
)


# Postprocessing hooks (SPECTACULAR_SETTINGS) --------------------------------------------------


def head_operations(result, generator, request, public):
    """drf-spectacular leaves HEAD out; add it where a view answers it: GET's operation, without bodies."""
    for path, _, _, view in generator.endpoints:
        operations = result["paths"].get(path, {})
        if "get" not in operations or "head" not in view.cls.http_method_names:
            continue
        head = copy.deepcopy(operations["get"])
        head["operationId"] += "_head"
        head["summary"] += " (headers only)"
        for response in head["responses"].values():
            response.pop("content", None)
        operations["head"] = head
    return result


def request_id_headers(result, generator, request, public):
    """Every answer carries X-Request-Id (timeslot/request_ids.py): said once here rather than in each view."""
    documented = {
        "schema": {"type": "string", "pattern": f"^{GIVEN.pattern}$"},
        "required": True,
        "description": "The request's id: the one the service's proxy gave it, else one made for it (32 hex "
        "digits). Error bodies say it as `request_id`; the service's logs and export log name the request by it.",
    }
    for operations in result["paths"].values():
        for operation in operations.values():
            for response in operation["responses"].values():
                response.setdefault("headers", {})[HEADER] = documented
    return result


def responses_in_order(result, generator, request, public):
    """Each operation's answers by status code, as a reader looks them up."""
    for operations in result["paths"].values():
        for operation in operations.values():
            operation["responses"] = dict(sorted(operation["responses"].items()))
    return result
