"""`DELETE /api/v1/logs/cleanup`: start a cleanup job, or preview it (dry run)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog_project.openapi import problem_responses
from auditlog_project.validation import StrictSerializerMixin
from jobs.api.serializers import JobSerializer
from jobs.choices import JobKind
from logs import audit
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from ..retention import planning


class CleanupQuerySerializer(StrictSerializerMixin, serializers.Serializer):
    before = serializers.DateTimeField(required=False, default=None)
    dry_run = serializers.BooleanField(required=False, default=False)


class CleanupPreviewSerializer(serializers.Serializer):
    before = serializers.DateTimeField(help_text="The cutoff used: the start of a UTC day.")
    to_archive = serializers.IntegerField()
    to_delete = serializers.IntegerField()


class CleanupView(TenantScopedAPIView):
    """Archive (per the tenant's policy) and delete the tenant's events older than
    `before`, in the background; tenant admins and platform administrators."""

    tenant_operations = {"DELETE": Operation.CLEANUP}

    @extend_schema(
        tags=["logs"],
        operation_id="logs_cleanup",
        summary="Clean up expired events (a background job), or preview it",
        parameters=[
            OpenApiParameter(
                "tenant_id", str, description="Needed unless you belong to one tenant."
            ),
            OpenApiParameter(
                "before",
                OpenApiTypes.DATETIME,
                description=(
                    "Events older than this go; rounded down to the start of its UTC day. "
                    "Default: now minus the tenant's retention_days; a later instant is 400."
                ),
            ),
            OpenApiParameter("dry_run", bool, description="Only count; nothing changes."),
        ],
        responses={
            200: OpenApiResponse(CleanupPreviewSerializer, description="Dry run"),
            202: OpenApiResponse(JobSerializer, description="Job started; see status_url"),
            **problem_responses(400, 401, 403),
        },
    )
    def delete(self, request: Request) -> Response:
        params = {k: v for k, v in request.query_params.items() if k != "tenant_id"}
        query = CleanupQuerySerializer(data=params)
        query.is_valid(raise_exception=True)
        tenant = self.access.tenant
        before = planning.effective_before(tenant, query.validated_data["before"])
        origin = audit.Origin.from_request(request)
        if query.validated_data["dry_run"]:
            plan = planning.preview(tenant, before)
            planning.record_dry_run(tenant, plan, actor=self.access.username, origin=origin)
            return Response(CleanupPreviewSerializer(plan).data)
        job, _, _ = planning.job_start(
            tenant=tenant,
            before=before,
            kind=JobKind.CLEANUP,
            requested_by=self.access.username,
            origin=origin,
        )
        body = JobSerializer(job).data
        return Response(
            body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["status_url"]}
        )
