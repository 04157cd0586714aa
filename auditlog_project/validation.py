"""Validation shared by every API input."""

from __future__ import annotations

from rest_framework import serializers


class StrictSerializerMixin:
    """Refuse unknown fields (400), so a typo never loses data silently."""

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["Expected a JSON object."]}, code="invalid"
            )
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field."] for name in unknown}, code="unknown_field"
            )
        return super().to_internal_value(data)
