"""OpenAPI pieces shared by every endpoint: the problem+json error documents."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .problems import TITLES


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Path of the bad field, e.g. events[3].ip_address")
    message = serializers.CharField()
    code = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details (media type application/problem+json)."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = FieldErrorSerializer(many=True, required=False)


def problem_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """`responses=` entries documenting the given error statuses as problem+json."""
    return {
        code: OpenApiResponse(response=ProblemSerializer, description=TITLES.get(code, "Error"))
        for code in codes
    }
