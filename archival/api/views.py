"""HTTP endpoints of the archive: tenant-scoped, recorded as access, no logic here."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from auditlog_project.openapi import problem_responses
from auditlog_project.pagination import StrictCursorPagination
from logs import audit
from logs.api.export_views import reject_unknown
from logs.api.views import TENANT_PARAMETERS
from tenants.permissions import Operation
from tenants.scoping import TenantScopedAPIView

from .. import selectors
from ..choices import ArchiveState
from ..models import ArchivedDay
from .serializers import ArchivedDaySerializer, ArchivePageSerializer, DownloadSerializer

LIST_PARAMETERS = frozenset({"tenant_id", "from", "to", "state", "page_size", "cursor"})


class ArchivePagination(StrictCursorPagination):
    ordering = "-day"
    page_size = 100
    max_page_size = 1000


def _day(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise exceptions.ValidationError(
            {name: [f"{value!r} is not a date (YYYY-MM-DD)."]}
        ) from None


class ArchiveListView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_ARCHIVE}
    scoped_model = ArchivedDay
    pagination_class = ArchivePagination

    @extend_schema(
        operation_id="archives_list",
        summary="List archived days",
        description=(
            "The tenant's days in cold storage, newest first: state, row count, sizes and "
            "SHA-256 of each object. Tenant admins, auditors and platform admins; "
            "recorded as a SEARCH access event (`resource_id` `archives`)."
        ),
        parameters=[
            *TENANT_PARAMETERS,
            OpenApiParameter("from", str, description="First day (YYYY-MM-DD), included."),
            OpenApiParameter("to", str, description="Last day (YYYY-MM-DD), included."),
            OpenApiParameter("state", str, enum=list(ArchiveState.values)),
            OpenApiParameter("page_size", int, description="1-1000, default 100."),
            OpenApiParameter("cursor", str, description="Opaque; from `next` or `previous`."),
        ],
        responses={200: ArchivePageSerializer, **problem_responses(400, 401, 403)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        reject_unknown(params, LIST_PARAMETERS)
        state = params.get("state") or None
        if state is not None and state not in ArchiveState.values:
            raise exceptions.ValidationError({"state": [f"One of {list(ArchiveState.values)}."]})
        days = selectors.archived_days(
            self.get_queryset(),
            first=_day(params.get("from"), "from"),
            last=_day(params.get("to"), "to"),
            state=state,
        )
        page = self.paginate_queryset(days) or []
        data = ArchivedDaySerializer(page, many=True, context={"request": request}).data
        audit.record_access(
            tenant_id=self.access.tenant_id,
            actor=self.access.username,
            action=audit.AccessAction.SEARCH,
            origin=audit.Origin.from_request(request),
            filters={k: params[k] for k in ("from", "to", "state") if params.get(k)},
            result_count=len(page),
            role=self.access.role,
            resource_id="archives",
        )
        return self.get_paginated_response(data)


class ArchiveDownloadView(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_ARCHIVE}
    scoped_model = ArchivedDay

    @extend_schema(
        operation_id="archives_download",
        summary="Download links of an archived day",
        description=(
            "Presigned S3 GET links to the day's manifest and Parquet parts, valid for "
            "ARCHIVE_URL_SECONDS (default 300). 404 unless the day is archived and "
            "verified. Recorded as an EXPORT access event (`resource_id` `archive:<day>`)."
        ),
        parameters=TENANT_PARAMETERS,
        responses={200: DownloadSerializer, **problem_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, day: str) -> Response:
        reject_unknown(request.query_params, frozenset({"tenant_id"}))
        wanted = _day(day, "day")
        assert wanted is not None
        record = selectors.verified_day(self.get_queryset(), wanted)
        if record is None:
            raise exceptions.NotFound("No verified archive of this day.")
        links = selectors.download_links(record, seconds=settings.ARCHIVE_URL_SECONDS)
        audit.record_access(
            tenant_id=self.access.tenant_id,
            actor=self.access.username,
            action=audit.AccessAction.EXPORT,
            origin=audit.Origin.from_request(request),
            result_count=record.row_count,
            role=self.access.role,
            resource_id=f"archive:{wanted.isoformat()}",
            details={"format": "parquet", "day": wanted.isoformat(), "parts": len(record.parts)},
        )
        return Response(DownloadSerializer(links).data)
