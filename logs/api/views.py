"""HTTP endpoints of the logs app: thin, tenant-scoped, no business logic."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from auditlog_project.openapi import problem_responses
from masking.selectors import masker_for
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import audit, selectors, services
from ..choices import Category
from ..filtersets import (
    CategoryInFilter,
    EventFilterSet,
    OffsetDateTimeFilter,
    UpperCaseInFilter,
)
from ..models import Event
from ..pagination import Cursor
from ..search.backend import event_search
from ..validation import oldest_accepted, parse_bulk, parse_event
from ..wire import event_json
from .serializers import (
    BulkCreateSerializer,
    BulkResultSerializer,
    CorrelationSerializer,
    EventCreateSerializer,
    EventPageSerializer,
    EventSerializer,
)

TENANT_PARAMETERS = [
    OpenApiParameter(
        "tenant_id",
        str,
        description="The tenant; may be omitted when the caller belongs to exactly one.",
    ),
    OpenApiParameter(
        "X-Tenant-ID",
        str,
        location=OpenApiParameter.HEADER,
        description="Alternative to tenant_id.",
    ),
]
PAGE_PARAMETERS = [
    OpenApiParameter("ordering", str, enum=["-timestamp", "timestamp"], default="-timestamp"),
    OpenApiParameter("page_size", int, description="1-1000, default 50."),
    OpenApiParameter("cursor", str, description="Opaque; taken from `next` or `previous`."),
]


def _filter_parameter(name: str, flt) -> OpenApiParameter:
    """Document a filter of EventFilterSet (the one declaration of the filters)."""
    if isinstance(flt, CategoryInFilter | UpperCaseInFilter):  # comma-separated lists
        items: dict = {"type": "string"}
        if isinstance(flt, CategoryInFilter):
            items["enum"] = list(Category.values)
        return OpenApiParameter(
            name,
            {"type": "array", "items": items},
            explode=False,
            description=flt.extra.get("help_text", ""),
        )
    kind = OpenApiTypes.DATETIME if isinstance(flt, OffsetDateTimeFilter) else OpenApiTypes.STR
    return OpenApiParameter(name, kind, description=flt.extra.get("help_text", ""))


FILTER_PARAMETERS = [_filter_parameter(n, f) for n, f in EventFilterSet.base_filters.items()]
LIST_PARAMETERS = frozenset(
    {"tenant_id", "ordering", "page_size", "cursor", *EventFilterSet.base_filters}
)


class EventListCreateView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS, "POST": Operation.CREATE_EVENTS}
    scoped_model = Event
    tenant_from_body = "single"
    activate_with_first_statement = True

    @extend_schema(
        operation_id="logs_list",
        summary="Search events",
        description="Keyset-paginated, newest first by default. Unknown parameters are "
        "refused (400), so a mistyped filter never returns everything. The header "
        "`X-Search-Backend` names the backend that answered (`postgresql` or `opensearch`); "
        "`X-Search-Fallback` is set when OpenSearch is configured but did not answer "
        "and PostgreSQL did instead. Cursors work across both.",
        parameters=TENANT_PARAMETERS + FILTER_PARAMETERS + PAGE_PARAMETERS,
        responses={200: EventPageSerializer, **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        unknown = sorted(set(request.query_params) - LIST_PARAMETERS)
        if unknown:
            raise exceptions.ValidationError({name: ["Unknown parameter."] for name in unknown})
        answer = event_search(
            scope=self.get_queryset(), params=request.query_params, access=self.access
        )
        page = answer.page
        audit.record_read(
            access=self.access,
            request=request,
            action=audit.AccessAction.SEARCH,
            params=request.query_params,
            result_count=len(page.rows),
            details=_page_details(request.query_params),
        )
        response = Response(
            {
                "results": [event_json(row) for row in page.rows],
                "next": _link(request, page.next),
                "previous": _link(request, page.previous),
            }
        )
        response["X-Search-Backend"] = answer.backend
        if answer.fallback:
            response["X-Search-Fallback"] = answer.fallback
        return response

    @extend_schema(
        operation_id="logs_create",
        summary="Store one event",
        request=EventCreateSerializer,
        responses={
            201: EventSerializer,
            200: EventSerializer,
            **problem_responses(400, 401, 403, 409, 413, 415, 503),
        },
        description="201 with the stored event. The same `id` again with the same content "
        "answers 200 with the stored event; with other content, 409. Secrets are masked "
        "before storage (built-in rules and the tenant's masking policy; `masked` lists "
        "the paths), and content is compared after masking.",
    )
    def post(self, request: Request) -> Response:
        now = timezone.now()
        data = parse_event(
            request.data,
            now=now,
            oldest=oldest_accepted(now, self.access.tenant.retention_days),
            masker=masker_for(self.access.tenant),
        )
        row, created = services.event_create(access=self.access, data=data)
        return Response(
            event_json(row), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class EventBulkCreateView(TenantScopedAPIView):
    tenant_operations = {"POST": Operation.CREATE_EVENTS}
    scoped_model = Event
    tenant_from_body = "bulk"
    activate_with_first_statement = True

    @extend_schema(
        operation_id="logs_bulk_create",
        summary="Store a batch of events, all or nothing",
        request=BulkCreateSerializer,
        responses={
            201: BulkResultSerializer,
            **problem_responses(400, 401, 403, 409, 413, 415, 503),
        },
        description="One invalid item refuses the whole batch (400 listing every bad "
        "item as `events[i].field`). More than BULK_MAX_EVENTS items: 413.",
    )
    def post(self, request: Request) -> Response:
        now = timezone.now()
        events = parse_bulk(
            request.data,
            now=now,
            max_events=settings.BULK_MAX_EVENTS,
            oldest=oldest_accepted(now, self.access.tenant.retention_days),
            masker=masker_for(self.access.tenant),
        )
        result = services.event_bulk_create(access=self.access, events=events)
        return Response(
            {
                "created": result.created,
                "duplicates": result.duplicates,
                "ids": [str(event_id) for event_id in result.ids],
            },
            status=status.HTTP_201_CREATED,
        )


class EventDetailView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Event

    @extend_schema(
        operation_id="logs_retrieve",
        summary="Get one event",
        description="The event with this id in the tenant; the `user` role sees only its "
        "own events. Another tenant's event answers 404, like a missing one.",
        parameters=TENANT_PARAMETERS
        + [OpenApiParameter("event_id", OpenApiTypes.UUID, location=OpenApiParameter.PATH)],
        responses={200: EventSerializer, **problem_responses(401, 403, 404)},
    )
    def get(self, request: Request, event_id: UUID) -> Response:
        row = selectors.event_get(scope=self.get_queryset(), event_id=event_id)
        if row is None:
            raise exceptions.NotFound("Event not found.")
        audit.record_read(
            access=self.access,
            request=request,
            action=audit.AccessAction.VIEW,
            params={},
            result_count=1,
            resource_id=str(event_id),
        )
        return Response(event_json(row))


CORRELATION_FIELDS = ("request_id", "session_id")


class EventCorrelationView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Event

    @extend_schema(
        operation_id="logs_correlation",
        summary="Every event of one request or session",
        description="The events whose `request_id` (or `session_id`) is the value given, "
        "oldest first, as a timeline: at most CORRELATION_MAX_EVENTS (default 1000; "
        "`truncated` says when there were more), with the first and last timestamps "
        "and the actors of the events listed. Exactly one of the two parameters, "
        "checked as the list's filters of the same names. The `user` role sees only "
        "its own events. Recorded as a SEARCH access event.",
        parameters=TENANT_PARAMETERS
        + [OpenApiParameter("request_id", str, description="At most 128 characters."),
           OpenApiParameter("session_id", str, description="At most 255 characters.")],
        responses={200: CorrelationSerializer, **problem_responses(400, 401, 403)},
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        params = request.query_params
        unknown = sorted(set(params) - {"tenant_id", *CORRELATION_FIELDS})
        if unknown:
            raise exceptions.ValidationError({name: ["Unknown parameter."] for name in unknown})
        given = [(name, params[name]) for name in CORRELATION_FIELDS if params.get(name)]
        if len(given) != 1:
            message = "Give exactly one of request_id and session_id."
            raise exceptions.ValidationError({"request_id": [message]})
        [(field, value)] = given
        rows, truncated = selectors.event_correlation(
            scope=self.get_queryset(),
            field=field,
            value=value,
            limit=settings.CORRELATION_MAX_EVENTS,
        )
        audit.record_read(
            access=self.access,
            request=request,
            action=audit.AccessAction.SEARCH,
            params=params,
            result_count=len(rows),
            details={"correlation": field, "truncated": truncated},
        )
        events = [event_json(row) for row in rows]
        return Response(
            {
                "field": field,
                "value": value,
                "events": events,
                "first": events[0]["timestamp"] if events else None,
                "last": events[-1]["timestamp"] if events else None,
                "actors": sorted({e["user_id"] for e in events if e["user_id"]}),
                "truncated": truncated,
            }
        )


def _page_details(params) -> dict:
    """What a SEARCH event keeps of the paging: the order, the size, a later page."""
    return {
        "ordering": params.get("ordering") or "-timestamp",
        "page_size": params.get("page_size") or None,
        "cursor": bool(params.get("cursor")),
    }


def _link(request: Request, cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    return replace_query_param(request.build_absolute_uri(), "cursor", cursor.encode())
