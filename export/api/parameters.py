"""The parameters of the exports and the feeds (`group`, the exports' window, the calendar's `parts`, the CSV's
`time_zone`), read and checked the same way everywhere."""
from collections.abc import Mapping

from django.http import QueryDict
from rest_framework import exceptions, serializers, status

from export.api.serializers import ExportParameters
from slots.models import SlotGroup
from slots.selectors import group_visible_to


class InvalidParameters(exceptions.ValidationError):
    """The original API's contract, which the existing clients rely on: invalid parameters are 422, not DRF's 400."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


class GroupNotFound(exceptions.NotFound):
    default_detail = "Slot group not found."


def export_parameters(request, serializer_class: type[serializers.Serializer] = ExportParameters) -> dict:
    """The request's parameters, body else query string, checked: 422 naming the field if one is invalid."""
    if not isinstance(request.data, Mapping):
        raise InvalidParameters({"non_field_errors": ["Expected a JSON object or form fields."]})
    body = request.data.dict() if isinstance(request.data, QueryDict) else request.data
    parameters = serializer_class(data={**request.query_params.dict(), **body})
    if not parameters.is_valid():
        raise InvalidParameters(parameters.errors)
    return parameters.validated_data


def export_arguments(request, parameters: dict) -> dict:
    """export_for's group (if the user may see it), window [since, until) and, for the CSV, time_zone, from an
    export's checked parameters."""
    return {
        "group": visible_group(request, parameters.get("group")),
        "since": parameters.get("from"),
        "until": parameters.get("until"),
        "time_zone": parameters.get("time_zone"),
    }


def requested_group(request) -> SlotGroup | None:
    """The group named by the `group` parameter (body, else query string), if the user may see it."""
    return visible_group(request, export_parameters(request).get("group"))


def visible_group(request, uuid) -> SlotGroup | None:
    if uuid is None:
        return None
    try:
        return group_visible_to(user=request.user, uuid=uuid)
    except SlotGroup.DoesNotExist:
        raise GroupNotFound()
