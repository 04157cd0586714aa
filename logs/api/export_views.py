"""Export and stats endpoints: tenant-scoped like the list, thin, no business logic.

Both run their checks inside the request transaction (ATOMIC_REQUESTS), as
every view does: `TenantScopedAPIView.initial()` resolves the tenant, checks
the role and activates the tenant. The export's body is then streamed after
that transaction committed; `logs.export.export_stream` opens its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog_project.openapi import problem_responses
from integrity import export as integrity_export
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import audit, export, stats
from ..filtersets import EventFilterSet
from ..models import Event
from ..wire import FORMATS, export_format
from .serializers import EventSerializer
from .views import FILTER_PARAMETERS, TENANT_PARAMETERS

FILTERS = tuple(EventFilterSet.base_filters)
EXPORT_PARAMETERS = frozenset({"tenant_id", "format", "ordering", "proofs", *FILTERS})
STATS_PARAMETERS = frozenset({"tenant_id", "bucket", *FILTERS})
DOWNLOAD = (
    'A download (`Content-Disposition: attachment; filename="auditlog-<tenant>-<UTC time>'
    '.<format>"`): CSV (UTF-8, header row), a JSON array, or NDJSON (an event per line).'
)


class FirstRendererNegotiation(BaseContentNegotiation):
    """JSON for errors, always: `format` is an API parameter here, not DRF's
    URL_FORMAT_OVERRIDE (which would answer 404 for `format=csv`)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def reject_unknown(params: Iterable[str], known: frozenset[str]) -> None:
    """400 naming each unknown parameter: a mistyped filter never widens a read."""
    unknown = sorted(set(params) - known)
    if unknown:
        raise exceptions.ValidationError({name: ["Unknown parameter."] for name in unknown})


async def _async_blocks(blocks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """The blocks of a sync generator, pulled one at a time on the request's thread.

    Under ASGI Django would read a sync iterator to the end into memory before
    sending it; this keeps the export streamed. `sync_to_async` is thread
    sensitive: every step runs on the thread (and database connection) that
    ran the view.
    """
    pull = sync_to_async(lambda: next(blocks, None))
    try:
        while (block := await pull()) is not None:
            yield block
    finally:
        await sync_to_async(blocks.close)()


def _body(
    request: Request, blocks: Generator[bytes, None, None]
) -> Iterator[bytes] | AsyncIterator[bytes]:
    return _async_blocks(blocks) if isinstance(request._request, ASGIRequest) else blocks


PROOFS = (
    "true: the JSON export becomes the standalone verifier's bundle (the checkpoint, "
    "each event with its proof); only with format=json."
)


def _proofs_wanted(value: str | None, format_name: str) -> bool:
    """The `proofs` flag; 400 for another value, or with a format other than JSON."""
    if value not in (None, "", "true", "false"):
        raise exceptions.ValidationError({"proofs": ["Must be true or false."]})
    if value == "true" and format_name != "json":
        raise exceptions.ValidationError({"proofs": ["Proofs come with format=json only."]})
    return value == "true"


def _attachment_name(tenant_id: str, extension: str) -> str:
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return f"auditlog-{tenant_id}-{stamp}.{extension}"


class EventExportView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Event
    rate_limit_kind = "export"  # its own limits, and a cap on concurrent exports
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="logs_export",
        summary="Export events as a streamed download",
        description=(
            "Every filter of the list endpoint; all rows in the chosen order, streamed at "
            "constant memory. Parameters are validated before the first byte (400 names the "
            "bad one). The export is itself recorded as an `EXPORT` event (resource_type "
            "`audit_log`, metadata: format, ordering, filters) when the request is accepted; "
            "that event is not part of its own export. Nested objects (`before`, `after`, "
            '`metadata`) are JSON as PostgreSQL stores them (`{"a": 1}`). CSV: a header row, '
            "and cells starting with = + - @ tab or carriage return prefixed with `'` so "
            "spreadsheets do not run them as formulas. JSON: one array. NDJSON: one event "
            "per line. `proofs=true` (JSON only): an object instead, the latest signed "
            "checkpoint and each event with its inclusion proof (`integrity`), which "
            "`python -m integrity.verifier` checks offline (docs/integrity.md)."
        ),
        parameters=[
            *TENANT_PARAMETERS,
            OpenApiParameter("format", str, enum=list(FORMATS), default="csv"),
            OpenApiParameter(
                "ordering", str, enum=["-timestamp", "timestamp"], default="-timestamp"
            ),
            OpenApiParameter(
                "proofs", str, enum=["true", "false"], default="false", description=PROOFS
            ),
            *FILTER_PARAMETERS,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description=DOWNLOAD),
            (200, "application/json"): OpenApiResponse(
                EventSerializer(many=True), description=DOWNLOAD
            ),
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description=DOWNLOAD),
            **problem_responses(400, 401, 403),
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        params = request.query_params
        reject_unknown(params, EXPORT_PARAMETERS)
        chosen = export_format(params.get("format"))
        proofs = _proofs_wanted(params.get("proofs"), chosen.name)
        rows = export.export_queryset(scope=self.get_queryset(), params=params)
        # Recorded when the export is accepted, before streaming: if it cannot be
        # stored the request fails and nothing is exported. Not part of its own export.
        record_id = audit.record_read(
            access=self.access,
            request=request,
            action=audit.AccessAction.EXPORT,
            params=params,
            result_count=None,  # streamed: not known before the first byte
            details={
                "format": chosen.name,
                "ordering": params.get("ordering") or "-timestamp",
                **({"proofs": True} if proofs else {}),
            },
        )
        if proofs:
            body = integrity_export.bundle_stream(
                tenant_id=self.access.tenant_id,
                events=rows.exclude(id=record_id),
                chunk_size=settings.EXPORT_CHUNK_SIZE,
            )
        else:
            body = export.export_stream(
                tenant_id=self.access.tenant_id,
                rows=rows.exclude(id=record_id),
                encode=chosen.encode,
                chunk_size=settings.EXPORT_CHUNK_SIZE,
            )
        response = StreamingHttpResponse(_body(request, body), content_type=chosen.content_type)
        name = _attachment_name(self.access.tenant_id, chosen.extension)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response


class TopUserSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    count = serializers.IntegerField()


class TimelinePointSerializer(serializers.Serializer):
    bucket = serializers.DateTimeField(help_text="Start of the UTC hour or day.")
    count = serializers.IntegerField()


class StatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_action = serializers.DictField(child=serializers.IntegerField())
    by_severity = serializers.DictField(child=serializers.IntegerField())
    by_resource_type = serializers.DictField(child=serializers.IntegerField())
    top_users = TopUserSerializer(many=True, help_text="The 10 most active actors.")
    timeline = TimelinePointSerializer(
        many=True, help_text="Buckets that have events, oldest first (empty ones omitted)."
    )
    start_time = serializers.DateTimeField(help_text="The window used (inclusive).")
    end_time = serializers.DateTimeField(allow_null=True, help_text="Exclusive; null: open.")
    bucket = serializers.ChoiceField(choices=stats.BUCKETS)


class EventStatsView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Event
    rate_limit_kind = "stats"
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="logs_stats",
        summary="Aggregate events: totals, breakdowns, top users, timeline",
        description=(
            "Exact counts. Without `start_time` the window is the 30 days before `end_time` "
            "(or now). Accepts the list filters too. A window with no filter is served from "
            "an hourly/daily rollup, with raw events for its partial edge hours and for hours "
            "changed since the last refresh (about a minute), so it is fast and still exact; "
            "a filtered request, or the `user` role, counts the matching events directly."
        ),
        parameters=[
            *TENANT_PARAMETERS,
            OpenApiParameter("bucket", str, enum=list(stats.BUCKETS), default="day"),
            *FILTER_PARAMETERS,
        ],
        responses={200: StatsSerializer, **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        params: Mapping[str, str] = request.query_params
        reject_unknown(params, STATS_PARAMETERS)
        result = stats.event_stats(
            access=self.access, scope=self.get_queryset(), params=params, now=timezone.now()
        )
        audit.record_read(
            access=self.access,
            request=request,
            action=audit.AccessAction.STATS,
            params=params,
            result_count=result["total"],
            details={"bucket": result["bucket"]},
        )
        return Response(StatsSerializer(result).data)
