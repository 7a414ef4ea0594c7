from rest_framework import serializers


class StrictUUIDField(serializers.UUIDField):
    """A uuid given as a string; DRF's own field would also take an integer."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class ExportParameters(serializers.Serializer):
    group = StrictUUIDField(
        required=False,
        help_text="Holds the uuid of the slot group which should be exported. "
        "If the parameter group is missing, all slots will be exported.",
    )
