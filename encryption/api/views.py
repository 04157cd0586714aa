"""A tenant's encryption at rest: which fields, which key versions (tenant admins)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from auditlog_project.openapi import problem_responses
from logs.audit import Origin
from tenants.permissions import Operation
from tenants.scoping import TenantPathAPIView

from .. import selectors, services
from .serializers import EncryptionPolicySerializer, EncryptionSettingsSerializer


class TenantEncryptionView(TenantPathAPIView):
    """`GET|PUT /api/v1/tenants/{id}/encryption`: the fields a tenant encrypts."""

    tenant_operations = {"GET": Operation.MANAGE_TENANT, "PUT": Operation.MANAGE_TENANT}

    @extend_schema(
        tags=["tenants"],
        operation_id="tenants_encryption_retrieve",
        responses={200: EncryptionSettingsSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request, tenant_id):
        return Response(selectors.encryption_settings(tenant_id=self.access.tenant_id))

    @extend_schema(
        tags=["tenants"],
        operation_id="tenants_encryption_update",
        request=EncryptionPolicySerializer,
        responses={200: EncryptionSettingsSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def put(self, request, tenant_id):
        serializer = EncryptionPolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.policy_set(
            tenant=self.access.tenant,
            fields=serializer.validated_data["encrypted_fields"],
            actor=request.user.get_username(),
            origin=Origin.from_request(request),
        )
        return Response(selectors.encryption_settings(tenant_id=self.access.tenant_id))
