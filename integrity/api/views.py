"""HTTP endpoints of the tamper-evident log: tenant-scoped but for the public keys."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from auditlog_project.openapi import problem_responses
from auditlog_project.pagination import StrictCursorPagination
from logs import audit
from logs.api.export_views import reject_unknown
from logs.api.views import TENANT_PARAMETERS
from logs.models import Event
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import selectors
from ..models import Checkpoint
from .serializers import (
    CheckpointPageSerializer,
    ConsistencySerializer,
    KeysSerializer,
    ProofSerializer,
)


class EventProofView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Event

    @extend_schema(
        operation_id="logs_proof",
        summary="Inclusion proof of an event",
        description=(
            "The RFC 9162 inclusion proof of the event's canonical record in the tenant's "
            "tree, against the latest signed checkpoint. 404 when the event is not the "
            "caller's to read, 409 while no checkpoint covers it yet. Recorded as a VIEW "
            "access event (`resource_id` `proof:<id>`)."
        ),
        parameters=TENANT_PARAMETERS,
        responses={200: ProofSerializer, **problem_responses(400, 401, 403, 404, 409)},
    )
    def get(self, request: Request, event_id: UUID) -> Response:
        reject_unknown(request.query_params, frozenset({"tenant_id"}))
        row = selectors.stored_event(scope=self.get_queryset(), event_id=event_id)
        if row is None:
            raise exceptions.NotFound("No such event.")
        proof = selectors.event_proof(tenant_id=self.access.tenant_id, row=row)
        audit.record_access(
            tenant_id=self.access.tenant_id,
            actor=self.access.username,
            action=audit.AccessAction.VIEW,
            origin=audit.Origin.from_request(request),
            result_count=1,
            role=self.access.role,
            resource_id=f"proof:{event_id}",
        )
        return Response(ProofSerializer(proof).data)


class CheckpointPagination(StrictCursorPagination):
    ordering = "-tree_size"
    page_size = 100
    max_page_size = 1000


class CheckpointListView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Checkpoint
    pagination_class = CheckpointPagination

    @extend_schema(
        operation_id="integrity_checkpoints_list",
        summary="List signed checkpoints",
        description=(
            "The tenant's signed checkpoints, newest (largest) first: tree size, root, "
            "time, the previous checkpoint's hash, key id and Ed25519 signature."
        ),
        parameters=[
            *TENANT_PARAMETERS,
            OpenApiParameter("page_size", int, description="1-1000, default 100."),
            OpenApiParameter("cursor", str, description="Opaque; from `next` or `previous`."),
        ],
        responses={200: CheckpointPageSerializer, **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        reject_unknown(request.query_params, frozenset({"tenant_id", "page_size", "cursor"}))
        page = self.paginate_queryset(selectors.checkpoint_list(tenant_id=self.access.tenant_id))
        return self.get_paginated_response([c.as_signed() for c in page or []])


MAX_TREE_SIZE = 2**62  # a bigint column; larger sizes cannot exist


def _size(value: str | None, name: str) -> int:
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 19:
        raise exceptions.ValidationError({name: ["A tree size (a positive integer) is required."]})
    if int(value) >= MAX_TREE_SIZE:
        raise exceptions.ValidationError({name: ["No tree is that large."]})
    return int(value)


class ConsistencyView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Checkpoint

    @extend_schema(
        operation_id="integrity_consistency",
        summary="Consistency proof between two checkpoints",
        description=(
            "The RFC 9162 consistency proof that the tree of checkpoint `first` is a prefix "
            "of the tree of checkpoint `second` (both tree sizes of the tenant's checkpoints)."
        ),
        parameters=[
            *TENANT_PARAMETERS,
            OpenApiParameter("first", int, required=True),
            OpenApiParameter("second", int, required=True),
        ],
        responses={200: ConsistencySerializer, **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        reject_unknown(params, frozenset({"tenant_id", "first", "second"}))
        proof = selectors.consistency(
            tenant_id=self.access.tenant_id,
            first=_size(params.get("first"), "first"),
            second=_size(params.get("second"), "second"),
        )
        return Response(ConsistencySerializer(proof).data)


class KeysView(APIView):
    """Public: anyone may check a checkpoint's signature."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="integrity_keys",
        summary="Public keys of checkpoint signatures",
        description=(
            "Every Ed25519 public key (base64 of 32 bytes) that signed checkpoints, "
            "retired ones included. No authentication."
        ),
        auth=[],
        responses={200: KeysSerializer, **problem_responses(429)},
    )
    def get(self, request: Request) -> Response:
        return Response(KeysSerializer({"keys": selectors.keys_list()}).data)
