"""Every request's id, so that an operator finds all that one request did: its answer's X-Request-Id header,
its JSON error body, each log line written while it is handled and its export log row say the same id.

Behind proxies of ours (NUM_PROXIES > 0, as export/api/audit.py reads the client's address) the id is the one
the outermost proxy sent in X-Request-Id, which ties our lines to the proxy's; otherwise, or when the header is
missing or is not a short token that can break no log line, header or JSON string, one is made here.

The id is held in a context variable for as long as the request runs here: from the first middleware until
its answer returns (Django's line for an error answer included), and again while the server draws each chunk
of a streamed answer and when it closes it (an export writes its rows, logs and records itself there, after
the middleware has returned). A thread started meanwhile sees it if it runs in a copy of the context
(export/read_ahead.py does).
"""
import contextlib
import contextvars
import logging
import re
import uuid
from collections.abc import Iterator

from django.utils.log import log_response
from rest_framework.settings import api_settings

HEADER = "X-Request-Id"
# An id a proxy may give: what nginx's $request_id (32 hex digits) and the usual tracing ids are made of.
GIVEN = re.compile(r"[A-Za-z0-9._-]{1,128}")

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled here, None outside one."""
    return _current.get()


def request_id_for(request) -> str:
    """The id the proxy gave the request if it came through proxies of ours and the id is a safe token;
    else a new one (32 hex digits, as nginx makes them)."""
    if (api_settings.NUM_PROXIES or 0) > 0:
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        if GIVEN.fullmatch(given):
            return given
    return uuid.uuid4().hex


@contextlib.contextmanager
def handling(request_id: str):
    """The block runs as part of the request with this id."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def streamed_as(request_id: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The chunks, each drawn as part of the request with this id (the server draws them after the
    middleware has returned, and nothing in between)."""
    chunks = iter(chunks)
    while True:
        with handling(request_id):
            chunk = next(chunks, None)
        if chunk is None:
            return
        yield chunk


class RequestIdMiddleware:
    """Gives the request its id (request.request_id), holds it while the request runs and answers it in
    X-Request-Id. First in MIDDLEWARE, so that every answer carries it, the other middleware's refusals too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id = request_id_for(request)
        with handling(request_id):
            response = self.get_response(request)
            if response.status_code >= 400:
                # Django's line for an error answer ("Not Found: /path"), which it writes once the last
                # middleware has returned, outside the request: written here, as Django words it, and not again.
                log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        response[HEADER] = request_id
        if response.streaming and not response.is_async:
            response.streaming_content = streamed_as(request_id, response.streaming_content)
        # The server closes the answer once sent, or when its client went away: an export's stream ends then,
        # logs and writes its row.
        close = response.close

        def close_as_part_of_the_request():
            with handling(request_id):
                close()

        response.close = close_as_part_of_the_request
        return response


class RequestIdFilter(logging.Filter):
    """Gives each record written while a request is handled that request's id (record.request_id), for the
    formatter to print (timeslot/log_lines.py); a record written outside one gets none."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id is not None and getattr(record, "request_id", None) is None:
            record.request_id = request_id
        return True
