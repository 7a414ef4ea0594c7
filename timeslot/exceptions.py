"""How the API turns errors into JSON answers: DRF's handler, and the one error it does not know."""
from django.core.exceptions import RequestDataTooBig
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
