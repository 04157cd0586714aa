"""Tenant and membership endpoints."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from auditlog_project.openapi import problem_responses
from logs import audit

from .. import selectors, services
from ..models import Membership
from ..permissions import PLATFORM_ADMIN, IsPlatformAdmin, Operation
from ..scoping import TenantPathAPIView
from .serializers import (
    MemberSerializer,
    MemberUpsertSerializer,
    TenantCreateSerializer,
    TenantSerializer,
    TenantUpdateSerializer,
)


class TenantListCreateView(APIView):
    """All tenants (platform administrators only)."""

    permission_classes = [IsPlatformAdmin]

    @extend_schema(
        tags=["tenants"],
        operation_id="tenants_list",
        responses={200: TenantSerializer(many=True), **problem_responses(401, 403)},
    )
    def get(self, request):
        return Response(TenantSerializer(selectors.tenant_list(), many=True).data)

    @extend_schema(
        tags=["tenants"],
        request=TenantCreateSerializer,
        responses={201: TenantSerializer, **problem_responses(400, 401, 403, 409)},
    )
    def post(self, request):
        serializer = TenantCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = services.tenant_create(
            **serializer.validated_data, by=audit.ChangedBy.from_request(request)
        )
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)


class TenantDetailView(TenantPathAPIView):
    """View or change one tenant (its admins and platform administrators)."""

    tenant_operations = {"GET": Operation.MANAGE_TENANT, "PATCH": Operation.MANAGE_TENANT}

    @extend_schema(
        tags=["tenants"], responses={200: TenantSerializer, **problem_responses(401, 403, 404)}
    )
    def get(self, request, tenant_id):
        return Response(TenantSerializer(self.access.tenant).data)

    @extend_schema(
        tags=["tenants"],
        request=TenantUpdateSerializer,
        responses={200: TenantSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def patch(self, request, tenant_id):
        serializer = TenantUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        if "is_active" in changes and self.access.role != PLATFORM_ADMIN:
            raise exceptions.PermissionDenied(
                "Only platform administrators may (de)activate a tenant."
            )
        tenant = services.tenant_update(
            tenant=self.access.tenant, by=audit.ChangedBy.from_request(request), **changes
        )
        return Response(TenantSerializer(tenant).data)


class MemberListView(TenantPathAPIView):
    """List the tenant's members, or give a user a role (upsert)."""

    tenant_operations = {"GET": Operation.MANAGE_TENANT, "POST": Operation.MANAGE_TENANT}
    scoped_model = Membership

    @extend_schema(
        tags=["tenants"],
        responses={200: MemberSerializer(many=True), **problem_responses(401, 403, 404)},
    )
    def get(self, request, tenant_id):
        members = self.get_queryset().select_related("user").order_by("user__username")
        return Response(MemberSerializer(members, many=True).data)

    @extend_schema(
        tags=["tenants"],
        request=MemberUpsertSerializer,
        responses={
            200: OpenApiResponse(MemberSerializer, description="Role changed"),
            201: OpenApiResponse(MemberSerializer, description="Member added"),
            **problem_responses(400, 401, 403, 404, 409),
        },
    )
    def post(self, request, tenant_id):
        serializer = MemberUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership, created = services.membership_upsert(
            tenant=self.access.tenant,
            by=audit.ChangedBy.from_request(request),
            **serializer.validated_data,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(MemberSerializer(membership).data, status=code)


class MemberDetailView(TenantPathAPIView):
    """Remove a member from the tenant."""

    tenant_operations = {"DELETE": Operation.MANAGE_TENANT}
    scoped_model = Membership

    @extend_schema(
        tags=["tenants"],
        responses={
            204: OpenApiResponse(description="Removed"),
            **problem_responses(401, 403, 404, 409),
        },
    )
    def delete(self, request, tenant_id, username):
        membership = self.get_queryset().filter(user__username=username).first()
        if membership is None:
            raise exceptions.NotFound("No such member in this tenant.")
        services.membership_delete(membership=membership, by=audit.ChangedBy.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
