import logging
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from export.authentication import LegacyTokenAuthentication
from export.exports import SlotExport, export_for
from export.negotiation import ExportNegotiation
from export.parameters import requested_group
from export.renderers import ICalendarRenderer, StreamingRenderer

logger = logging.getLogger(__name__)


class JSONErrorsMixin:
    """Errors are JSON whatever the Accept header asked for."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.exception:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SlotExportView(JSONErrorsMixin, APIView):
    """The slots the user created, all or one group's, as a file a calendar imports."""

    authentication_classes = (LegacyTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    renderer_classes = (ICalendarRenderer,)
    content_negotiation_class = ExportNegotiation

    def post(self, request, *args, **kwargs):
        export = export_for(user=request.user, group=requested_group(request))
        renderer = request.accepted_renderer
        response = streamed(export, renderer)
        response["Content-Disposition"] = content_disposition_header(True, export.filename(renderer.format))
        return response


def streamed(export: SlotExport, renderer: StreamingRenderer) -> StreamingHttpResponse:
    """The export as a streaming response, private to its user."""
    chunks = reported(export.chunks(renderer), export)
    # The first chunk runs the query: a database failure here is still an
    # error status, not a 200 with a broken body.
    first = next(chunks)
    response = StreamingHttpResponse(
        resumed(first, chunks),
        content_type=f"{renderer.media_type}; charset={renderer.charset}",
    )
    response["Cache-Control"] = "private"
    return response


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
