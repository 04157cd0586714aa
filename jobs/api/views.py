"""`GET /api/v1/jobs/{id}`: a job of the caller's tenant (its admins)."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog_project.openapi import problem_responses
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import selectors
from ..models import Job
from .serializers import JobSerializer


class JobDetailView(TenantScopedAPIView):
    """The tenant is the one named (parameter or header), else the job's own; either
    way the caller must be an admin of it, and a job of another tenant is 404."""

    tenant_operations = {"GET": Operation.CLEANUP}
    scoped_model = Job
    hidden_tenant_error = exceptions.NotFound

    def requested_tenant_id(self, request: Request) -> str | None:
        named = super().requested_tenant_id(request)
        if named:
            return named
        owner = selectors.job_tenant_id(self.kwargs["job_id"])
        if owner is None:
            raise exceptions.NotFound("No such job.")
        return owner

    @extend_schema(
        tags=["jobs"],
        operation_id="jobs_retrieve",
        responses={200: JobSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request: Request, job_id: UUID) -> Response:
        job = self.get_queryset().filter(pk=job_id).first()
        if job is None:
            raise exceptions.NotFound("No such job.")
        return Response(JobSerializer(job).data)
