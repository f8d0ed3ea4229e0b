"""Serializer fields stricter than DRF's defaults."""

from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers instead of coercing them to text.

    DRF's CharField turns ``12345`` into ``"12345"``; for credentials and
    identifiers a wrong JSON type is a client bug and gets a 400.
    """

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
