"""The parameters of the export and the feeds (`group`, and the calendar's `parts`), read and checked the same
way everywhere."""
from collections.abc import Mapping

from django.http import QueryDict
from rest_framework import exceptions, status

from export.api.serializers import ExportParameters
from slots.models import SlotGroup
from slots.selectors import group_visible_to


class InvalidParameters(exceptions.ValidationError):
    """The seed's contract: invalid parameters are 422, not DRF's 400."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class GroupNotFound(exceptions.NotFound):
    default_detail = "Slot group not found."


def export_parameters(request, serializer_class=ExportParameters) -> dict:
    """The request's parameters, body else query string, checked (422 if invalid)."""
    if not isinstance(request.data, Mapping):
        raise InvalidParameters({"non_field_errors": ["Expected a JSON object or form fields."]})
    body = request.data.dict() if isinstance(request.data, QueryDict) else request.data
    parameters = serializer_class(data={**request.query_params.dict(), **body})
    if not parameters.is_valid():
        raise InvalidParameters(parameters.errors)
    return parameters.validated_data


def requested_group(request, parameters: dict | None = None) -> SlotGroup | None:
    """The group named by the `group` parameter (of parameters if already read), if the user may see it."""
    if parameters is None:
        parameters = export_parameters(request)
    uuid = parameters.get("group")
    if uuid is None:
        return None
    try:
        return group_visible_to(user=request.user, uuid=uuid)
    except SlotGroup.DoesNotExist:
        raise GroupNotFound()
