"""HTTP endpoints of alerts: rules (admins manage, auditors read) and fired
alerts (listed, acknowledged). Tenant-scoped; no logic here."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog_project.openapi import problem_responses
from auditlog_project.pagination import StrictCursorPagination
from logs.api.export_views import reject_unknown
from logs.api.views import TENANT_PARAMETERS
from logs.audit import Origin
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import selectors, services
from ..models import Alert, AlertRule
from ..wire import alert_json, rule_json
from .serializers import (
    AlertPageSerializer,
    AlertSerializer,
    RuleOutSerializer,
    RulePageSerializer,
    RuleSerializer,
)

LIST_PARAMETERS = frozenset({"tenant_id", "acknowledged", "page_size", "cursor"})
TAGS = ["alerts"]


class AlertPagination(StrictCursorPagination):
    ordering = ("-fired_at", "-id")
    page_size = 50
    max_page_size = 500


def _uuid_or_404(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise exceptions.NotFound() from None


class RuleListView(TenantScopedAPIView):
    """The tenant's alert rules: list (admins, auditors), create (admins)."""

    tenant_operations = {"GET": Operation.READ_ALERTS, "POST": Operation.MANAGE_ALERTS}
    scoped_model = AlertRule
    tenant_from_body = "single"

    @extend_schema(
        tags=TAGS,
        operation_id="alerts_rules_list",
        summary="List alert rules",
        description="The tenant's rules, oldest first. Tenant admins and auditors.",
        parameters=TENANT_PARAMETERS,
        responses={200: RulePageSerializer, **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        return Response({"results": [rule_json(r) for r in selectors.rules(self.get_queryset())]})

    @extend_schema(
        tags=TAGS,
        operation_id="alerts_rules_create",
        summary="Create an alert rule",
        description="Tenant admins. `filters` take the names and values of the list "
        "endpoint's filters; each bad one is named in `errors` (`filters.severity`). "
        "Evaluated on events committed from now on. Recorded as an ALERT_RULE_CREATE "
        "admin event.",
        parameters=TENANT_PARAMETERS,
        request=RuleSerializer,
        responses={201: RuleOutSerializer, **problem_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if isinstance(data, dict):  # the body's tenant_id named the tenant (scoping)
            data = {k: v for k, v in data.items() if k != "tenant_id"}
        serializer = RuleSerializer(data=data)  # anything else: 400 "Expected a JSON object."
        serializer.is_valid(raise_exception=True)
        rule = services.rule_create(
            tenant=self.access.tenant,
            data=serializer.validated_data,
            username=self.access.username,
            origin=Origin.from_request(request),
        )
        return Response(rule_json(rule), status=status.HTTP_201_CREATED)


class RuleDetailView(TenantScopedAPIView):
    """One alert rule: read (admins, auditors), change or delete (admins)."""

    tenant_operations = {
        "GET": Operation.READ_ALERTS,
        "PATCH": Operation.MANAGE_ALERTS,
        "DELETE": Operation.MANAGE_ALERTS,
    }
    scoped_model = AlertRule

    def _rule(self, rule_id: str) -> AlertRule:
        rule = selectors.rule(self.get_queryset(), _uuid_or_404(rule_id))
        if rule is None:
            raise exceptions.NotFound()
        return rule

    @extend_schema(
        tags=TAGS,
        operation_id="alerts_rules_retrieve",
        summary="One alert rule",
        parameters=TENANT_PARAMETERS,
        responses={200: RuleOutSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request: Request, rule_id: str) -> Response:
        return Response(rule_json(self._rule(rule_id)))

    @extend_schema(
        tags=TAGS,
        operation_id="alerts_rules_partial_update",
        summary="Change an alert rule",
        description="Tenant admins; any subset of the fields (`condition` as a whole). "
        "Recorded as an ALERT_RULE_UPDATE admin event with before and after.",
        parameters=TENANT_PARAMETERS,
        request=RuleSerializer(partial=True),
        responses={200: RuleOutSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, rule_id: str) -> Response:
        rule = self._rule(rule_id)
        serializer = RuleSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rule = services.rule_update(
            rule=rule,
            data=serializer.validated_data,
            username=self.access.username,
            origin=Origin.from_request(request),
        )
        return Response(rule_json(rule))

    @extend_schema(
        tags=TAGS,
        operation_id="alerts_rules_destroy",
        summary="Delete an alert rule",
        description="Tenant admins. Alerts it fired stay listed (`rule_id` null). "
        "Recorded as an ALERT_RULE_DELETE admin event.",
        parameters=TENANT_PARAMETERS,
        responses={204: None, **problem_responses(401, 403, 404)},
    )
    def delete(self, request: Request, rule_id: str) -> Response:
        services.rule_delete(
            rule=self._rule(rule_id),
            username=self.access.username,
            origin=Origin.from_request(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertListView(TenantScopedAPIView):
    """The tenant's fired alerts, newest first (admins, auditors)."""

    tenant_operations = {"GET": Operation.READ_ALERTS}
    scoped_model = Alert
    pagination_class = AlertPagination

    @extend_schema(
        tags=TAGS,
        operation_id="alerts_list",
        summary="List fired alerts",
        description="Newest first, cursor-paginated. Tenant admins and auditors.",
        parameters=[
            *TENANT_PARAMETERS,
            OpenApiParameter("acknowledged", bool, description="true or false; default both."),
            OpenApiParameter("page_size", int, description="1-500, default 50."),
            OpenApiParameter("cursor", str, description="Opaque; from `next` or `previous`."),
        ],
        responses={200: AlertPageSerializer, **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        reject_unknown(params, LIST_PARAMETERS)
        acknowledged = _boolean(params.get("acknowledged"), "acknowledged")
        scope = selectors.alerts(self.get_queryset(), acknowledged=acknowledged)
        paginator = self.paginator
        assert paginator is not None
        page = paginator.paginate_queryset(scope, request, view=self)
        return paginator.get_paginated_response([alert_json(a) for a in page or []])


def _boolean(value: str | None, name: str) -> bool | None:
    if value in (None, ""):
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise exceptions.ValidationError({name: ["Must be true or false."]})


class AlertAckView(TenantScopedAPIView):
    """Acknowledge a fired alert (admins)."""

    tenant_operations = {"POST": Operation.MANAGE_ALERTS}
    scoped_model = Alert

    @extend_schema(
        tags=TAGS,
        operation_id="alerts_ack",
        summary="Acknowledge a fired alert",
        description="Tenant admins; once (409 after). Recorded as an ALERT_ACK admin event.",
        parameters=TENANT_PARAMETERS,
        request=None,
        responses={200: AlertSerializer, **problem_responses(401, 403, 404, 409)},
    )
    def post(self, request: Request, alert_id: str) -> Response:
        alert = selectors.alert(self.get_queryset(), _uuid_or_404(alert_id))
        if alert is None:
            raise exceptions.NotFound()
        alert = services.alert_ack(
            alert=alert, username=self.access.username, origin=Origin.from_request(request)
        )
        return Response(alert_json(alert))
