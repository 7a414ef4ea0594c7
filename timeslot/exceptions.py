"""How the API turns errors into JSON answers: DRF's handler, the one error it does not know, and URLs
that match no route."""
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.defaults import page_not_found
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.views import exception_handler


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this service accepts."
    default_code = "request_too_large"


def api_exception_handler(exc, context):
    """DRF's handler; a body over DATA_UPLOAD_MAX_MEMORY_SIZE is 413 in JSON, not Django's 400 page."""
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    return exception_handler(exc, context)


def not_found(request, exception):
    """A URL of the API that matches no route is 404 in JSON like every other error of the API (a malformed
    feed id, say); elsewhere (the admin) Django's page."""
    if request.path.startswith("/v1/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)
