import logging
from collections.abc import Iterator

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.status import HTTP_200_OK, HTTP_500_INTERNAL_SERVER_ERROR
from rest_framework.views import APIView

from export.api.audit import ExportAudit
from export.api.authentication import LegacyTokenAuthentication
from export.api.limits import ExportPlace, refuse_too_many_slots
from export.api.negotiation import ExportNegotiation
from export.api.parameters import export_arguments, export_parameters
from export.api.schema import ExportSchema
from export.api.serializers import SlotExportParameters
from export.api.throttling import ExportRateThrottle
from export.exports import SlotExport, export_for
from export.renderers import ICalendarPartsRenderer, ICalendarRenderer, StreamingRenderer
from timeslot.db_routers import read_within_scope, replica_reads

# The logger keeps the name it had before the module moved into export/api/: log routing matches on it.
logger = logging.getLogger("export.views")

# nginx's name for a client that went away mid-response: there is no standard status for it.
CLIENT_CLOSED_REQUEST = 499


class JSONErrorsMixin:
    """Errors are JSON whatever the Accept header asked for."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response) and response.exception:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SlotExportView(JSONErrorsMixin, APIView):
    """The slots the user created, all or one group's, as a file a calendar imports."""

    # Every view names the methods it answers: any other, OPTIONS too, is 405 with Allow (and the
    # schema's HEAD operations follow these lists, export/api/schema.py).
    http_method_names = ("post",)
    authentication_classes = (LegacyTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    throttle_classes = (ExportRateThrottle,)
    renderer_classes = (ICalendarRenderer,)
    content_negotiation_class = ExportNegotiation
    schema = ExportSchema()
    # The export log's name for this endpoint (google and ical are one calendar); set in urls.py.
    export_kind = ""
    # What the export's parameters are (the calendar's also take `parts`, the CSV's a zone); set in urls.py.
    parameters_class = SlotExportParameters

    def post(self, request, *args, **kwargs):
        audit = ExportAudit.of_request(self.export_kind, request)
        parameters = export_parameters(request, self.parameters_class)
        export = export_for(user=request.user, **export_arguments(request, parameters))
        # parts=true stands for Accept: application/zip, for clients that cannot set the header.
        renderer = ICalendarPartsRenderer() if parameters.get("parts") else request.accepted_renderer
        budget = settings.EXPORT_PART_MAX_BYTES if type(renderer) is ICalendarRenderer else None
        # Read from the replica unless it has not replayed the user's last write (timeslot/db_routers.py).
        with replica_reads(request.user):
            response = streamed_within_limits(export, renderer, audit=audit, import_budget=budget)
        response["Content-Disposition"] = content_disposition_header(True, export.filename(renderer.format))
        return response


def streamed_within_limits(
    export: SlotExport, renderer: StreamingRenderer, *, audit: ExportAudit | None, import_budget: int | None = None
) -> StreamingHttpResponse:
    """streamed(), if the user may have it: every API export and feed comes through here (the admin's
    download and the command, operators' tools, do not). First a place among the user's concurrent
    exports (429), taken before anything reads the database, then the slot count (422).

    With an import budget (a single-file calendar), a file larger than an import takes carries
    Timeslot-Warning: the count shows it of a large calendar at once (the count times the smallest
    event is over the budget); of a smaller one, streamed() reads on until it passes the budget or ends."""
    place = ExportPlace.take(export.user)
    try:
        count = refuse_too_many_slots(export)
        certainly_over = import_budget is not None and count * renderer.smallest_event_octets(export) > import_budget
        return streamed(
            export, renderer, audit=audit, place=place, import_budget=import_budget, known_over=certainly_over
        )
    except BaseException:
        place.release()
        raise


# Sent with a single-file calendar larger than an import takes.
WARNING_HEADER = "Timeslot-Warning"


def over_budget(budget: int) -> str:
    """The warning's value: what is over, the budget, and how to get the calendar in parts."""
    return f'over-import-budget; max-bytes={budget}; parts="Accept: application/zip"'


def streamed(
    export: SlotExport, renderer: StreamingRenderer, *, audit: ExportAudit | None, place: ExportPlace | None = None,
    import_budget: int | None = None, known_over: bool = False,
) -> StreamingHttpResponse:
    """The export as a streaming response, private to its user; logged at its end if audit says how, and
    holding the export's place among its user's running exports until then, if it has one.

    With an import budget, a file larger than it carries Timeslot-Warning and logs its size at its
    end. Unless it is known_over already, the chunks are read before the response starts until they
    pass the budget or the file ends, so the header can tell: at most the budget and one chunk held."""
    if audit is not None:
        export = audit.counted(export)
    # Drawn within the scope of the reads the caller began in (a replica's, timeslot/db_routers.py): the server
    # draws them after the view has returned.
    chunks = reported(read_within_scope(export.chunks(renderer)), export, audit, import_budget)
    if place is not None:
        chunks = held(chunks, place)
    # The first chunk runs the query: a database failure here is still an
    # error status, not a 200 with a broken body.
    opening = [next(chunks)]
    read = len(opening[0])
    look_ahead = 0 if known_over or import_budget is None else import_budget
    while read <= look_ahead and (chunk := next(chunks, None)) is not None:
        opening.append(chunk)
        read += len(chunk)
    response = streaming_response(resumed(opening, chunks), renderer)
    if known_over or (import_budget is not None and read > import_budget):
        response[WARNING_HEADER] = over_budget(import_budget)
    return response


def streaming_response(chunks: Iterator[bytes], renderer: StreamingRenderer) -> StreamingHttpResponse:
    """The response every export's bytes go out in, written now or kept from before (Replayed)."""
    charset = f"; charset={renderer.charset}" if renderer.charset else ""
    response = StreamingHttpResponse(chunks, content_type=renderer.media_type + charset)
    response["Cache-Control"] = "private"
    return response


class Replayed:
    """Bytes an export was already written as, as a response's stream, logged at its end as reported() logs
    one written now: 200 once they are handed on, 499 if the client goes away first, before they start too
    (the server then closes the stream unread)."""

    def __init__(self, body: bytes, slot_count: int, *, user, group, audit: ExportAudit):
        self.body, self.slot_count, self.user, self.group, self.audit = body, slot_count, user, group, audit
        self.handed_on = self.ended = False

    def __iter__(self) -> "Replayed":
        return self

    def __next__(self) -> bytes:
        if self.handed_on:
            self.end(HTTP_200_OK)
            raise StopIteration
        self.handed_on = True
        return self.body

    def close(self) -> None:
        self.end(CLIENT_CLOSED_REQUEST)

    def end(self, status: int) -> None:
        if not self.ended:
            self.ended = True
            self.audit.slot_count, self.audit.bytes = self.slot_count, len(self.body)
            self.audit.record(user=self.user, group=self.group, status=status)


def resumed(opening: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks read before the response started, then the rest; closing this (the server does, also
    when a client goes away) closes the rest, and so ends the export's transaction, also before the rest
    was started."""
    try:
        yield from opening
        yield from rest
    finally:
        rest.close()


def held(chunks: Iterator[bytes], place: ExportPlace) -> Iterator[bytes]:
    """The chunks, the export's place renewed while they flow and given back when they stop, however."""
    try:
        for chunk in chunks:
            place.renew()
            yield chunk
    finally:
        chunks.close()
        place.release()


def reported(
    chunks: Iterator[bytes], export: SlotExport, audit: ExportAudit | None, import_budget: int | None = None
) -> Iterator[bytes]:
    """The chunks, with a log line if the stream breaks or ends larger than import_budget, and the export
    log's row once it ends."""
    status = HTTP_500_INTERNAL_SERVER_ERROR
    sent = 0
    try:
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
        status = HTTP_200_OK
        if import_budget is not None and sent > import_budget:
            logger.warning(
                "Export for user %s (group %s) sent %d bytes in one file, over the import budget of %d "
                "(EXPORT_PART_MAX_BYTES): Accept: application/zip would have sent it in parts.",
                export.user.pk, export.group.uuid if export.group else "-", sent, import_budget,
            )
    except GeneratorExit:
        status = CLIENT_CLOSED_REQUEST
        raise
    except Exception:
        logger.exception(
            "Export for user %s (group %s) stopped after %d bytes; the client got an incomplete file.",
            export.user.pk, export.group.uuid if export.group else "-", sent,
        )
        raise
    finally:
        if audit is not None:
            # End the read's transaction first (a no-op once the stream is over): the row is written
            # after it, in a transaction of its own.
            chunks.close()
            audit.bytes = sent
            audit.record(user=export.user, group=export.group, status=status)
