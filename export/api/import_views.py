"""POST /v1/import: the HTTP shell around export.imports.service.import_slots."""
from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from export.api.audit import ExportAudit
from export.api.authentication import LegacyTokenAuthentication
from export.api.parameters import GroupNotFound
from export.api.schema import IMPORT
from export.api.serializers import ImportParameters
from export.api.throttling import ExportRateThrottle
from export.imports.archives import ArchiveTooLarge
from export.imports.records import ImportRejected
from export.imports.service import CalendarResult, FileTooLarge, ImportConflict, import_slots
from export.models import ExportLog
from slots.models import SlotGroup
from timeslot.exceptions import identified

# What a multipart body holds besides the file: boundaries, part headers, the other fields.
MULTIPART_ALLOWANCE = 64 * 1024


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is too large."


class JSONWhateverAccepted(DefaultContentNegotiation):
    """The import answers JSON only, to any Accept: its clients send the export's (text/plain, text/calendar)."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ImportView(APIView):
    """A calendar file (iCalendar, the Outlook CSV or a Timeslot backup), or a ZIP of calendars (Google
    Calendar's export), read into the user's slots."""

    authentication_classes = (LegacyTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    # An import reads and writes a whole file: it counts as an export in the user's rate.
    throttle_classes = (ExportRateThrottle,)
    http_method_names = ("post",)
    parser_classes = (MultiPartParser,)
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = JSONWhateverAccepted

    def initial(self, request, *args, **kwargs):
        self.audit = ExportAudit.of_request(ExportLog.Kind.IMPORT, request)
        self.group: SlotGroup | None = None
        self.signed_in = None
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request):
        super().perform_authentication(request)
        if request.user.is_authenticated:
            self.signed_in = request.user

    def finalize_response(self, request, response, *args, **kwargs):
        """Every answer to a signed-in user is logged, a refusal with its status; an anonymous caller's is not.
        Who signed in is what the authentication found: request.user would authenticate again when it failed,
        and a database it could not reach would fail here, past the API's error handler."""
        response = super().finalize_response(request, response, *args, **kwargs)
        audit = getattr(self, "audit", None)
        if audit is not None and getattr(self, "signed_in", None) is not None:
            audit.record(user=self.signed_in, group=self.group, status=response.status_code)
        return response

    @extend_schema(**IMPORT)
    def post(self, request, *args, **kwargs):
        limit = settings.IMPORT_MAX_BYTES
        too_large = PayloadTooLarge(f"The file is larger than {limit:,} bytes, the most an import takes.")
        # A body too large to hold a small enough file is refused before it is read at all.
        if declared_length(request) > limit + MULTIPART_ALLOWANCE:
            raise too_large
        upload = request.FILES.get("file")
        if upload is None:
            raise exceptions.ValidationError({"file": ["No file was submitted."]})
        self.audit.bytes = upload.size
        if upload.size > limit:
            raise too_large
        parameters = ImportParameters(data=request.data)
        if not parameters.is_valid():
            problems = [
                {"where": field, "problem": str(error)}
                for field, errors in parameters.errors.items()
                for error in errors
            ]
            return Response(identified({"problems": problems}), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        try:
            # The upload's own file (Django's File splits lines at a lone CR too, which iCalendar does not).
            result = import_slots(user=request.user, data=upload.file, **parameters.validated_data)
        except SlotGroup.DoesNotExist:
            raise GroupNotFound()
        except ImportRejected as rejected:
            return Response(identified({"problems": rejected.problems}), status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        except ImportConflict as conflict:
            return Response(identified({"detail": str(conflict)}), status=status.HTTP_409_CONFLICT)
        except (ArchiveTooLarge, FileTooLarge) as error:
            raise PayloadTooLarge(str(error))
        self.audit.slot_count = result.created + result.updated + result.unchanged
        self.audit.imported = {
            "created": result.created, "updated": result.updated, "unchanged": result.unchanged,
            "removed": result.removed,
        }
        if "group" in parameters.validated_data:
            # The import checked that the user may see it; the log names it.
            self.group = SlotGroup.objects.filter(uuid=parameters.validated_data["group"]).first()
        body = {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "removed": result.removed,
            "warnings": result.warnings,
            "series": list(result.series),
            "recurrence_window": result.recurrence(),
        }
        if result.calendars is not None:
            body["calendars"] = [calendar_body(calendar) for calendar in result.calendars]
        return Response(body)


def calendar_body(calendar: CalendarResult) -> dict:
    """A ZIP's calendar in the answer (export/api/schema.py, ImportCalendar)."""
    return {
        "file": calendar.file,
        "group": {"uuid": str(calendar.group.uuid), "name": calendar.group.name},
        "new_group": calendar.new_group,
        "created": calendar.created,
        "updated": calendar.updated,
        "unchanged": calendar.unchanged,
        "removed": calendar.removed,
    }


def declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
