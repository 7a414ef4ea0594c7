"""How the service turns errors into JSON answers: DRF's handler, the errors it does not know, and Django's 500."""
import logging
import sys

from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.utils.log import log_response
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import page_not_found as django_page_not_found
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler

from timeslot.request_ids import current_request_id

logger = logging.getLogger(__name__)

# Seconds a client is asked to wait when the database cannot be reached: long enough for a
# restart or a fail-over, short enough that a calendar app's next try is likely to work.
DATABASE_RETRY_AFTER = 30
# When SQLite was busy with other writers for longer than its busy timeout: they are done in seconds.
DATABASE_BUSY_RETRY_AFTER = 5
# How sqlite3 words a lock it waited for in vain (SQLITE_BUSY, SQLITE_LOCKED).
BUSY_MESSAGES = ("database is locked", "database table is locked")
HOST_NOT_SERVED = "The Host header names no host this service answers to."
# DRF's body for a 500, which says nothing of the cause.
SERVER_ERROR = "Server Error (500)"


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this service accepts."
    default_code = "request_too_large"


class TooManyParts(APIException):
    """More form fields or files than Django reads (DATA_UPLOAD_MAX_NUMBER_FIELDS, _FILES)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "too_many_parts"


class DatabaseUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service cannot reach its database. Try again shortly."
    default_code = "database_unavailable"
    # DRF's handler sends it as Retry-After.
    wait = DATABASE_RETRY_AFTER


class DatabaseBusy(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = ("The database was busy with other changes for longer than this request may wait; "
                      "nothing was changed. Try again shortly.")
    default_code = "database_busy"
    wait = DATABASE_BUSY_RETRY_AFTER


def is_database_busy(exc: BaseException | None) -> bool:
    """SQLite's refusal of a writer that waited its busy timeout for the lock (timeslot/settings.py): the
    database is there, and other writers are using it."""
    return isinstance(exc, OperationalError) and str(exc).startswith(BUSY_MESSAGES)


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Django's wrappers of a refused, dropped or closed connection (and of a statement cut short by
    statement_timeout: the database is there but cannot answer in time, which a retry may fix too)."""
    return isinstance(exc, (OperationalError, InterfaceError))


def log_database_unavailable(exc: BaseException, request) -> None:
    # The driver's message names host and port, never the password; the traceback is for operators only.
    logger.error("Database unavailable, answered 503 to %s %s: %s", request.method, request.path,
                 str(exc).strip(), exc_info=exc)


def log_refused(exc: SuspiciousOperation, request, response, *, where: str = ""):
    """The response, logged in one warning line on Django's own logger for the refusal (django.security.<its
    class>), without the traceback Django would log at ERROR: the client's request is at fault, not the code.
    Django's own line for the response ("Bad Request: <path>") is then left out, as for any logged response."""
    security_logger = logging.getLogger(f"django.security.{type(exc).__name__}")
    log_response("%s%s", where, str(exc), response=response, request=request, logger=security_logger)
    return response


def body_refused(exc: SuspiciousOperation) -> APIException | None:
    """What the API answers for a body Django refuses to read: too large, too many fields, too many files."""
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, TooManyFieldsSent):
        return TooManyParts(f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} fields, "
                            "the most this service reads.")
    if isinstance(exc, TooManyFilesSent):
        return TooManyParts(f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES:,} files, "
                            "the most this service reads.")
    return None


def api_exception_handler(exc, context):
    """DRF's handler; a body Django refuses to read (over DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields or
    files) is 413 or 400 in JSON, not Django's 400 page, and a database that cannot be reached, or that was busy
    with other writers for too long (SQLite), is 503 with Retry-After, not a 500."""
    refused = body_refused(exc)
    if refused is not None:
        request = context["request"]
        # The route, not the path: a feed's path holds its secret.
        route = request.resolver_match.route if request.resolver_match else ""
        return log_refused(exc, request, exception_handler(refused, context), where=f"{request.method} /{route}: ")
    if is_database_busy(exc):
        request = context["request"]
        logger.warning("Database busy, answered 503 to %s %s: %s", request.method, request.path, exc)
        exc = DatabaseBusy()
    elif is_database_unavailable(exc):
        log_database_unavailable(exc, context["request"])
        exc = DatabaseUnavailable()
    response = exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        response.data = identified(response.data)
    return response


def identified(body: dict) -> dict:
    """An error body with the id of the request it answers beside its fields (its X-Request-Id), which the log
    lines and the export log row of the request hold too: what a client quotes to an operator."""
    return {**body, "request_id": current_request_id()}


def api_json(data: dict, *, status: int) -> JsonResponse:
    """An error body, identified, in JSON written as DRF's JSONRenderer writes it (no spaces), so that every
    error body of the API looks alike."""
    return JsonResponse(identified(data), status=status, json_dumps_params={"separators": (",", ":")})


def is_api(request) -> bool:
    return request.path_info.startswith("/v1/")


def page_not_found(request, exception):
    """Django's handler404: a path under the API that no route takes (a feed id that is not a uuid) in
    DRF's JSON, like every other error of the API; the admin keeps Django's page."""
    if is_api(request):
        return api_json({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return django_page_not_found(request, exception)


def bad_request(request, exception):
    """Django's handler400 (a request it refuses before or outside DRF, such as a Host that ALLOWED_HOSTS
    does not name), in JSON under the API; the admin keeps Django's page."""
    if is_api(request):
        detail = HOST_NOT_SERVED if isinstance(exception, DisallowedHost) else "Bad request."
        return api_json({"detail": detail}, status=status.HTTP_400_BAD_REQUEST)
    return django_bad_request(request, exception)


def server_error(request, *args, **kwargs):
    """Django's handler500 (outside DRF: the admin), in JSON; 503 with Retry-After when the database is down.

    Django calls it while handling the exception, so sys.exception() is the error, as its own
    technical 500 page reads it; Django has already logged it (django.request).
    """
    if is_database_unavailable(sys.exception()):
        busy = is_database_busy(sys.exception())
        detail = (DatabaseBusy if busy else DatabaseUnavailable).default_detail
        response = api_json({"detail": detail}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER if busy else DATABASE_RETRY_AFTER)
        return response
    return api_json({"error": SERVER_ERROR}, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
