"""The tenant's masking policy: read it, replace it, try it on a sample event."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog_project.errors import Invalid
from auditlog_project.openapi import problem_responses
from logs.audit import Origin
from logs.validation import event_errors_or_value
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import rules, selectors, services
from ..models import MaskingPolicy
from ..policy import PolicyRules, compile_masker
from .serializers import (
    DryRunResultSerializer,
    DryRunSerializer,
    PolicyOutSerializer,
    PolicySerializer,
)

BUILTIN = {
    "key_names": sorted(rules.SECRET_KEYS),
    "key_suffixes": sorted({*rules.SECRET_SUFFIXES, *(f"{p}*" for p in rules.SECRET_PREFIXES)}),
    "value_kinds": ["card (Luhn, kept as ****1234)", *sorted(rules.MARKERS.values())],
}


class _PolicyView(TenantScopedAPIView):
    """Addressed by the tenant in the path; a hidden tenant answers 404."""

    hidden_tenant_error = exceptions.NotFound

    def requested_tenant_id(self, request: Request) -> str | None:
        return self.kwargs["tenant_id"]


class MaskingPolicyView(_PolicyView):
    """Admins read and replace the policy; auditors read it; users may not."""

    tenant_operations = {"GET": Operation.READ_MASKING_POLICY, "PUT": Operation.MANAGE_TENANT}

    @extend_schema(
        tags=["tenants"],
        operation_id="tenants_masking_policy_retrieve",
        summary="The tenant's masking policy",
        responses={200: PolicyOutSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request: Request, tenant_id: str) -> Response:
        return Response(self._answer(selectors.policy_row(tenant=self.access.tenant)))

    @extend_schema(
        tags=["tenants"],
        operation_id="tenants_masking_policy_update",
        summary="Replace the tenant's masking policy",
        description="Takes effect for the next event stored, in every process. Events "
        "stored before keep their masking. Each bad rule is named in `errors` "
        "(e.g. `value_patterns[2].pattern`).",
        request=PolicySerializer,
        responses={200: PolicyOutSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def put(self, request: Request, tenant_id: str) -> Response:
        serializer = PolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saved = services.policy_put(
            tenant=self.access.tenant,
            rules=serializer.rules(),
            username=self.access.username,
            origin=Origin.from_request(request),
        )
        return Response(self._answer(saved))

    def _answer(self, row: MaskingPolicy | None) -> dict:
        """The policy `row` (None: never saved) as the endpoint answers it."""
        tenant = self.access.tenant
        return {
            "tenant_id": tenant.pk,
            **selectors.rules_of(row).as_json(),
            "version": tenant.masking_version,
            "updated_at": row.updated_at if row else None,
            "updated_by": row.updated_by if row else None,
            "builtin": {"enabled": selectors.builtin_masker().builtin, **BUILTIN},
        }


class MaskingDryRunView(_PolicyView):
    """What a sample event becomes under a proposed (or the saved) policy; stores nothing."""

    tenant_operations = {"POST": Operation.MANAGE_TENANT}

    @extend_schema(
        tags=["tenants"],
        operation_id="tenants_masking_policy_dry_run",
        summary="Try a masking policy on a sample event",
        description="Validates the sample like POST /api/v1/logs (errors as `event.<field>`) "
        "and answers the fields as they would be stored, with the paths masked. Nothing "
        "is stored or logged.",
        request=DryRunSerializer,
        responses={200: DryRunResultSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, tenant_id: str) -> Response:
        serializer = DryRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proposed = serializer.validated_data.get("policy")
        masker = (
            selectors.masker_for(self.access.tenant)
            if proposed is None
            else compile_masker(PolicyRules.from_json(proposed))
        )
        sample = serializer.validated_data["event"]
        event, errors = event_errors_or_value(sample, now=timezone.now(), masker=masker)
        if errors:
            raise Invalid({"event": errors})
        given = sample.keys() if isinstance(sample, dict) else ()
        values = {name: value for name, value in event.values.items() if name in given}
        values = {name: str(value) if name == "id" else value for name, value in values.items()}
        if "timestamp" in values:
            values["timestamp"] = event.timestamp.isoformat()
        return Response({"event": values, "masked": event.values["masked"]})
