"""OpenAPI pieces shared by every app: the problem+json error documents."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .problems import PROBLEM_CONTENT_TYPE

DESCRIPTIONS = {
    400: "Invalid input; `errors` names every bad field.",
    401: "No, expired or invalid access token.",
    403: "Not allowed (an inaccessible tenant looks exactly like a missing one).",
    404: "Not found or not visible to the caller.",
    409: "Conflicts with stored state.",
    413: "The body or the batch is too large.",
    415: "The body is not application/json.",
    429: "Rate limited (docs/operations.md#rate-limits); retry after `Retry-After` seconds.",
    503: "Not possible right now (e.g. `storage-not-ready`); retry after `Retry-After` seconds.",
}


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()


class ProblemFieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Path of the field, e.g. `events[3].ip_address`.")
    message = serializers.CharField()
    code = serializers.CharField()


class ValidationProblemSerializer(ProblemSerializer):
    # A field named like Serializer.errors: this class only describes the schema.
    errors = ProblemFieldErrorSerializer(many=True)  # type: ignore[assignment]


def problem_responses(*statuses: int) -> dict:
    """`extend_schema(responses=...)` entries for these error statuses."""
    return {
        (status, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            ValidationProblemSerializer if status == 400 else ProblemSerializer,
            description=DESCRIPTIONS.get(status, ""),
        )
        for status in statuses
    }


def rate_limited_everywhere(result: dict, generator, request, public) -> dict:
    """POSTPROCESSING_HOOKS: every operation may answer 429 with Retry-After.

    Every endpoint is rate limited (`auditlog_project.ratelimits`), so the
    answer is declared once, as a shared response, instead of on each view.
    """
    result["components"].setdefault("responses", {})["RateLimited"] = {
        "description": DESCRIPTIONS[429],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "headers": {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds to wait before trying again.",
            }
        },
    }
    for path in result["paths"].values():
        for operation in path.values():
            operation["responses"]["429"] = {"$ref": "#/components/responses/RateLimited"}
    return result
