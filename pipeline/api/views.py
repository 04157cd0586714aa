"""The pipeline's status for platform administrators: queue depths and consumer lags."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auditlog_project.openapi import problem_responses
from tenants.permissions import IsPlatformAdmin

from .. import selectors
from .serializers import PipelineStatusSerializer


class PipelineStatusView(APIView):
    permission_classes = [IsPlatformAdmin]

    @extend_schema(
        tags=["pipeline"],
        operation_id="pipeline_status",
        summary="Queue depths and each consumer's lag (platform administrators)",
        description="How far each pipeline consumer is behind the committed events, "
        "and how many messages wait on the SQS queue and its dead-letter queue. "
        "docs/operations.md#event-pipeline explains each number.",
        responses={200: PipelineStatusSerializer, **problem_responses(401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response(
            {"queues": selectors.queues_or_error(), "consumers": selectors.consumer_lags()}
        )
