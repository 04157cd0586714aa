"""HTTP endpoints of log streams: tenant admins register and watch destinations."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog_project.openapi import problem_responses
from logs.api.views import TENANT_PARAMETERS
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import services
from ..models import Destination
from .serializers import (
    CreatedSerializer,
    DestinationCreateSerializer,
    DestinationSerializer,
    DestinationUpdateSerializer,
    ReplayResultSerializer,
    ReplaySerializer,
)

ADMINS_ONLY = (
    "Tenant administrators (and platform administrators) only; a destination "
    "of another tenant answers 404."
)


class _DestinationsView(TenantScopedAPIView):
    scoped_model = Destination
    tenant_from_body = "single"


class DestinationListView(_DestinationsView):
    tenant_operations = {"GET": Operation.MANAGE_TENANT, "POST": Operation.MANAGE_TENANT}

    @extend_schema(
        tags=["destinations"],
        operation_id="destinations_list",
        summary="The tenant's log stream destinations",
        description=ADMINS_ONLY,
        parameters=TENANT_PARAMETERS,
        responses={200: DestinationSerializer(many=True), **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response(DestinationSerializer(self.get_queryset(), many=True).data)

    @extend_schema(
        tags=["destinations"],
        operation_id="destinations_create",
        summary="Register a destination (the secret is shown once)",
        description="Events committed from now on are delivered in order, in signed "
        'batches (`POST {"events": [...]}`, headers `X-Auditlog-Timestamp` and '
        '`X-Auditlog-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`). '
        "The URL must be https and resolve to public addresses only (400 naming `url`). "
        + ADMINS_ONLY,
        parameters=TENANT_PARAMETERS,
        request=DestinationCreateSerializer,
        responses={201: CreatedSerializer, **problem_responses(400, 401, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        serializer = DestinationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        created = services.destination_create(
            tenant=self.access.tenant,
            name=data["name"],
            url=data["url"],
            secret=data.get("secret"),
            actor=self.access.username,
        )
        answer = CreatedSerializer(created.destination).data
        answer["secret"] = created.secret
        return Response(answer, status=status.HTTP_201_CREATED)


class _OneDestinationView(_DestinationsView):
    def destination(self, destination_id) -> Destination:
        found = self.get_queryset().filter(pk=destination_id).first()
        if found is None:
            raise Http404("No such destination.")
        return found


class DestinationDetailView(_OneDestinationView):
    tenant_operations = {
        "GET": Operation.MANAGE_TENANT,
        "PATCH": Operation.MANAGE_TENANT,
        "DELETE": Operation.MANAGE_TENANT,
    }

    @extend_schema(
        tags=["destinations"],
        operation_id="destinations_retrieve",
        summary="One destination, with its delivery state",
        description=ADMINS_ONLY,
        parameters=TENANT_PARAMETERS,
        responses={200: DestinationSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request: Request, destination_id) -> Response:
        return Response(DestinationSerializer(self.destination(destination_id)).data)

    @extend_schema(
        tags=["destinations"],
        operation_id="destinations_update",
        summary="Change a destination; `state: active` un-parks it",
        description=ADMINS_ONLY,
        parameters=TENANT_PARAMETERS,
        request=DestinationUpdateSerializer,
        responses={200: DestinationSerializer, **problem_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request: Request, destination_id) -> Response:
        destination = self.destination(destination_id)
        serializer = DestinationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = {k: v for k, v in serializer.validated_data.items() if k != "tenant_id"}
        updated = services.destination_update(destination=destination, changes=changes)
        return Response(DestinationSerializer(updated).data)

    @extend_schema(
        tags=["destinations"],
        operation_id="destinations_destroy",
        summary="Remove a destination and its undelivered queue",
        description=ADMINS_ONLY,
        parameters=TENANT_PARAMETERS,
        responses={204: None, **problem_responses(401, 403, 404)},
    )
    def delete(self, request: Request, destination_id) -> Response:
        services.destination_delete(destination=self.destination(destination_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DestinationReplayView(_OneDestinationView):
    tenant_operations = {"POST": Operation.MANAGE_TENANT}

    @extend_schema(
        tags=["destinations"],
        operation_id="destinations_replay",
        summary="Deliver the tenant's events from a point in time again",
        description="Queues every stored event dated from `from` (oldest first) after "
        "what is already queued, and un-parks the destination. Events are sent again "
        "even if delivered before: receivers dedupe by event `id`. " + ADMINS_ONLY,
        parameters=TENANT_PARAMETERS,
        request=ReplaySerializer,
        responses={202: ReplayResultSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, destination_id) -> Response:
        destination = self.destination(destination_id)
        serializer = ReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queued = services.destination_replay(
            destination=destination, since=serializer.validated_data["from"]
        )
        destination.refresh_from_db()
        answer = {"queued_events": queued, "destination": DestinationSerializer(destination).data}
        return Response(answer, status=status.HTTP_202_ACCEPTED)
