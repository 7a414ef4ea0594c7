import logging
from collections.abc import Iterator, Mapping

from django.http import QueryDict, StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from export.authentication import LegacyTokenAuthentication
from export.exports import SlotExport, export_for
from export.negotiation import ExportNegotiation
from export.renderers import ICalendarRenderer
from export.serializers import ExportParameters
from slots.models import SlotGroup
from slots.selectors import group_visible_to

logger = logging.getLogger(__name__)


class InvalidParameters(exceptions.ValidationError):
    """The seed's contract: invalid parameters are 422, not DRF's 400."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class GroupNotFound(exceptions.NotFound):
    default_detail = "Slot group not found."


class SlotExportView(APIView):
    """The slots the user created, all or one group's, as a file a calendar imports."""

    authentication_classes = (LegacyTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    renderer_classes = (ICalendarRenderer,)
    content_negotiation_class = ExportNegotiation

    def post(self, request, *args, **kwargs):
        export = export_for(user=request.user, group=self.requested_group(request))
        renderer = request.accepted_renderer
        chunks = reported(export.chunks(renderer), export)
        # The first chunk runs the query: a database failure here is still an
        # error status, not a 200 with a broken body.
        first = next(chunks)
        response = StreamingHttpResponse(
            resumed(first, chunks),
            content_type=f"{renderer.media_type}; charset={renderer.charset}",
        )
        response["Content-Disposition"] = content_disposition_header(True, export.filename(renderer.format))
        response["Cache-Control"] = "private"
        return response

    def requested_group(self, request) -> SlotGroup | None:
        """The group named by the `group` parameter (body, else query string), if the user may see it."""
        if not isinstance(request.data, Mapping):
            raise InvalidParameters({"non_field_errors": ["Expected a JSON object or form fields."]})
        body = request.data.dict() if isinstance(request.data, QueryDict) else request.data
        parameters = ExportParameters(data={**request.query_params.dict(), **body})
        if not parameters.is_valid():
            raise InvalidParameters(parameters.errors)
        uuid = parameters.validated_data.get("group")
        if uuid is None:
            return None
        try:
            return group_visible_to(user=request.user, uuid=uuid)
        except SlotGroup.DoesNotExist:
            raise GroupNotFound()

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.exception:
            # Errors are JSON whatever the Accept header asked for.
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


def resumed(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """The first chunk again, then the rest; closing this (the server does, also when a client
    goes away) closes the rest, and so ends the export's transaction."""
    yield first
    yield from rest


def reported(chunks: Iterator[bytes], export: SlotExport) -> Iterator[bytes]:
    """The chunks, with a log line if the stream breaks."""
    sent = 0
    try:
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
    except Exception:
        logger.exception(
            "Export for user %s (group %s) stopped after %d bytes; the client got an incomplete file.",
            export.user.pk, export.group.uuid if export.group else "-", sent,
        )
        raise
