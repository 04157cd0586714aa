"""The dashboard's pages: server-rendered, reading and changing through the API.

Each page resolves the caller's tenant and role with the API's resolver
(`tenants.scoping.resolve_access`), then calls the API's view in process
(`dashboard.api`) and renders the answer, so a page can show nothing the API
would not answer to the same user. Pages are never cached (`never_cache`):
they hold a tenant's events.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.tokens import AccessToken

from auditlog_project import ratelimits
from auditlog_project.authentication import STREAM_SCOPE
from encryption.api.views import TenantEncryptionView
from logs.api.export_views import EventStatsView
from logs.api.views import EventCorrelationView, EventDetailView, EventListCreateView
from masking.api.views import MaskingPolicyView
from tenants.api.views import MemberDetailView, MemberListView, TenantDetailView
from tenants.choices import Role
from tenants.models import Membership, Tenant
from tenants.permissions import Operation
from tenants.scoping import TenantAccess, resolve_access

from . import api
from .diff import changes

SESSION_TENANT = "dashboard_tenant"
SEARCH_FIELDS = (
    "q",
    "start_time",
    "end_time",
    "user_id",
    "action",
    "resource_type",
    "resource_id",
    "severity",
    "category",
    "ip_address",
    "session_id",
    "request_id",
)
SEVERITIES = ("INFO", "WARNING", "ERROR", "CRITICAL")
CATEGORIES = ("application", "access", "admin")
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
RANGES["30d"] = timedelta(days=30)
PAGE_SIZE = 50
EXPORT_FORMATS = ("csv", "json", "ndjson")
# The pages a tenant switch may return to (by URL name).
PAGES = frozenset({"overview", "search", "live", "correlation", "members", "settings", "policies"})


def tenant_choices(request: HttpRequest) -> list[tuple[str, str, str]]:
    """(id, name, role) of every tenant the user may open here, by name; read
    once per request (the tenant resolution and the page's switcher use it)."""
    cached = getattr(request, "_dashboard_tenants", None)
    if cached is None:
        cached = request._dashboard_tenants = _tenants_of(request.user)  # type: ignore[attr-defined]
    return cached


def _tenants_of(user) -> list[tuple[str, str, str]]:
    if user.is_superuser:
        tenants = Tenant.objects.filter(is_active=True).order_by("name")
        return [(t.id, t.name, "platform_admin") for t in tenants]
    memberships = (
        Membership.objects.filter(user=user, tenant__is_active=True)
        .select_related("tenant")
        .order_by("tenant__name")
    )
    return [(m.tenant.id, m.tenant.name, m.role) for m in memberships]


def current_access(request: HttpRequest) -> TenantAccess | None:
    """The caller's access to the tenant picked in this session (else the first)."""
    choices = tenant_choices(request)
    if not choices:
        return None
    ids = [choice[0] for choice in choices]
    picked = request.session.get(SESSION_TENANT)
    tenant_id = picked if picked in ids else ids[0]
    try:
        return resolve_access(request.user, tenant_id)
    except APIException:
        return None


def page(
    request: HttpRequest,
    template: str,
    access: TenantAccess | None,
    status: int = 200,
    **context: Any,
) -> HttpResponse:
    """Render a dashboard page with the shell's context (tenants, role, navigation)."""
    context.update(
        access=access,
        tenants=tenant_choices(request),
        is_tenant_admin=bool(access and access.allows(Operation.MANAGE_TENANT)),
        nav=request.resolver_match.url_name if request.resolver_match else "",
    )
    return render(request, f"dashboard/{template}", context, status=status)


def tenant_page(*, admin_only: bool = False) -> Callable[[Callable], Callable]:
    """A dashboard page of the session's tenant: logged in, never cached, the
    tenant resolved (the view gets its TenantAccess after the request), the
    no-tenant page without one, and 403 for a page of tenant admins."""

    def decorate(view: Callable) -> Callable:
        @never_cache
        @login_required
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            access = current_access(request)
            if access is None:
                return page(request, "no_tenant.html", None)
            if admin_only and not access.allows(Operation.MANAGE_TENANT):
                return page(request, "forbidden.html", access, status=403)
            return view(request, access, *args, **kwargs)

        return wrapped

    return decorate


@never_cache
@login_required
@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    tenant_id = request.POST.get("tenant", "")
    if tenant_id in {choice[0] for choice in tenant_choices(request)}:
        request.session[SESSION_TENANT] = tenant_id
    return redirect(_same_page(request.POST.get("next", "")))


def _same_page(back: str) -> str:
    """The dashboard page `back` names, without its query (ids and cursors of the
    other tenant mean nothing in this one); the overview for anything else."""
    try:
        match = resolve(urlsplit(back).path)
    except Resolver404:
        return reverse("dashboard:overview")
    if match.namespace == "dashboard" and match.url_name == "event":
        return reverse("dashboard:search")  # the event is the other tenant's
    if match.namespace == "dashboard" and match.url_name in PAGES:
        return reverse(f"dashboard:{match.url_name}")
    return reverse("dashboard:overview")


@tenant_page()
def overview(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    chosen = request.GET.get("range", "24h")
    if chosen not in RANGES:
        chosen = "24h"
    now = timezone.now()
    params = api.query(
        {
            "tenant_id": access.tenant_id,
            "start_time": (now - RANGES[chosen]).isoformat(),
            "end_time": now.isoformat(),
            "bucket": "hour" if RANGES[chosen] <= timedelta(days=7) else "day",
        }
    )
    answer = api.get(request, EventStatsView.as_view(), params)
    stats = answer.data if answer.ok else None
    charts = _charts(stats) if stats else None
    return page(
        request,
        "overview.html",
        access,
        ranges=list(RANGES),
        chosen=chosen,
        stats=stats,
        charts=charts,
        tables=_tables(charts) if charts else [],
        problem=answer.problem,
    )


def _top(counts: dict[str, int], limit: int = 10) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _charts(stats: dict) -> dict:
    """The chart data (also shown as tables): labels and counts per chart."""
    timeline = stats.get("timeline") or []
    severity = stats.get("by_severity") or {}
    return {
        "timeline": {
            "labels": [point["bucket"] for point in timeline],
            "counts": [point["count"] for point in timeline],
        },
        "severity": {
            "labels": [s for s in SEVERITIES if s in severity],
            "counts": [severity[s] for s in SEVERITIES if s in severity],
        },
        "actions": _pairs(_top(stats.get("by_action") or {})),
        "resources": _pairs(_top(stats.get("by_resource_type") or {})),
        "users": {
            "labels": [u["user_id"] for u in stats.get("top_users") or []],
            "counts": [u["count"] for u in stats.get("top_users") or []],
        },
    }


def _pairs(rows: list[tuple[str, int]]) -> dict:
    return {"labels": [label for label, _ in rows], "counts": [count for _, count in rows]}


def _tables(charts: dict) -> list[tuple[str, list[tuple[str, int]]]]:
    """The charts' figures as (title, rows), for readers who cannot see a chart."""
    titles = {
        "severity": "By severity",
        "actions": "Top actions",
        "users": "Top users",
        "resources": "Top resource types",
        "timeline": "Events over time",
    }
    return [
        (title, list(zip(charts[key]["labels"], charts[key]["counts"], strict=True)))
        for key, title in titles.items()
    ]


def _filters(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "").strip() for name in SEARCH_FIELDS}


def _cursor_of(link: str | None) -> str | None:
    if not link:
        return None
    values = parse_qs(urlsplit(link).query).get("cursor")
    return values[0] if values else None


@tenant_page()
def search(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    filters = _filters(request)
    params = api.query(
        {
            **filters,
            "tenant_id": access.tenant_id,
            "page_size": str(PAGE_SIZE),
            "cursor": request.GET.get("cursor", ""),
        }
    )
    answer = api.get(request, EventListCreateView.as_view(), params)
    results = answer.data.get("results", []) if answer.ok else []
    kept = api.query(filters)
    links = {}
    for name in ("next", "previous"):
        cursor = _cursor_of(answer.data.get(name)) if answer.ok else None
        if cursor:
            paged = kept.copy()
            paged["cursor"] = cursor
            links[name] = f"?{paged.urlencode()}"
    exports = []
    for fmt in EXPORT_FORMATS:
        export = kept.copy()
        export["tenant_id"] = access.tenant_id
        export["format"] = fmt
        exports.append((fmt, f"{reverse('logs-export')}?{export.urlencode()}"))
    return page(
        request,
        "search.html",
        access,
        filters=filters,
        results=results,
        links=links,
        exports=exports,
        problem=answer.problem,
        severities=SEVERITIES,
        categories=CATEGORIES,
        searched=any(filters.values()) or "cursor" in request.GET,
    )


@tenant_page()
def event(request: HttpRequest, access: TenantAccess, event_id: UUID) -> HttpResponse:
    params = api.query({"tenant_id": access.tenant_id})
    answer = api.get(request, EventDetailView.as_view(), params, event_id=event_id)
    if answer.status == 404:
        return page(request, "not_found.html", access, status=404)
    found = answer.data if answer.ok else None
    return page(
        request,
        "event.html",
        access,
        event=found,
        diff=changes(found.get("before"), found.get("after")) if found else [],
        metadata=json.dumps(found["metadata"], indent=2, ensure_ascii=False)
        if found and found.get("metadata")
        else "",
        problem=answer.problem,
    )


@tenant_page()
def correlation(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    # ?by=<field>&value=... from the form, ?request_id= or ?session_id= from links.
    field = request.GET.get("by") or ("session_id" if "session_id" in request.GET else "request_id")
    if field not in ("request_id", "session_id"):
        field = "request_id"
    value = (request.GET.get("value") or request.GET.get(field, "")).strip()
    answer = None
    if value:
        params = api.query({"tenant_id": access.tenant_id, field: value})
        answer = api.get(request, EventCorrelationView.as_view(), params)
    return page(
        request,
        "correlation.html",
        access,
        field=field,
        value=value,
        timeline=answer.data if answer and answer.ok else None,
        problem=answer.problem if answer else "",
    )


@tenant_page()
def live(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    filters = {name: request.GET.get(name, "").strip() for name in ("severity", "action")}
    filters.update(
        {name: request.GET.get(name, "").strip() for name in ("resource_type", "user_id")}
    )
    filters["category"] = request.GET.get("category", "application").strip()
    return page(
        request,
        "live.html",
        access,
        filters=filters,
        severities=SEVERITIES,
        categories=CATEGORIES,
    )


@never_cache
@require_POST
def stream_token(request: HttpRequest) -> JsonResponse:
    """A short-lived token for the live tail's WebSocket (the stream authenticates
    by token, never by cookie): stream-only (`scope: stream`, refused by every
    HTTP endpoint), for a logged-in user of a tenant, a few a minute per user.
    POST, so the CSRF check applies; JSON answers, for the tail's script."""
    if not request.user.is_authenticated:
        return JsonResponse({"detail": "Log in again."}, status=401)
    if current_access(request) is None:
        return JsonResponse({"detail": "You belong to no active tenant."}, status=403)
    limit = ratelimits.Limit(f"stream-token:{request.user.pk}", settings.STREAM_TOKEN_RATE)
    wait = ratelimits.refusal([limit])
    if wait is not None:
        answer = JsonResponse({"detail": f"Too many tokens; wait {wait} s."}, status=429)
        answer["Retry-After"] = str(wait)
        return answer
    token = AccessToken.for_user(request.user)
    token["scope"] = STREAM_SCOPE
    return JsonResponse({"token": str(token), "expires_in": int(token.lifetime.total_seconds())})


@tenant_page(admin_only=True)
def members(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    tenant_id = access.tenant_id
    if request.method == "POST":
        action = request.POST.get("action")
        username = request.POST.get("username", "").strip()
        if action == "remove":
            answer = api.send(
                request,
                MemberDetailView.as_view(),
                "DELETE",
                tenant_id=tenant_id,
                username=username,
            )
        else:
            body = {"username": username, "role": request.POST.get("role", "")}
            answer = api.send(request, MemberListView.as_view(), "POST", body, tenant_id=tenant_id)
        if answer.ok:
            messages.success(
                request, f"{username}: {'removed' if action == 'remove' else 'saved'}."
            )
            return redirect("dashboard:members")
        messages.error(request, answer.problem)
    answer = api.get(request, MemberListView.as_view(), api.query({}), tenant_id=tenant_id)
    return page(
        request,
        "members.html",
        access,
        members=answer.data if answer.ok else [],
        roles=Role.values,
        problem=answer.problem,
    )


@tenant_page(admin_only=True)
def tenant_settings(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    view = TenantDetailView.as_view()
    if request.method == "POST":
        body: dict[str, Any] = {
            "name": request.POST.get("name", "").strip(),
            "archive_before_delete": request.POST.get("archive_before_delete") == "on",
        }
        retention = request.POST.get("retention_days", "").strip()
        try:
            body["retention_days"] = int(retention)
        except ValueError:
            body["retention_days"] = retention  # the API names the field
        answer = api.send(request, view, "PATCH", body, tenant_id=access.tenant_id)
        if answer.ok:
            messages.success(request, "Tenant settings saved.")
            return redirect("dashboard:settings")
        messages.error(request, answer.problem)
    answer = api.get(request, view, api.query({}), tenant_id=access.tenant_id)
    return page(
        request,
        "settings.html",
        access,
        tenant=answer.data if answer.ok else None,
        problem=answer.problem,
    )


MASKING_RULES = ("key_names", "value_patterns")


@tenant_page(admin_only=True)
def policies(request: HttpRequest, access: TenantAccess) -> HttpResponse:
    """The tenant's masking policy (its rules as JSON) and the fields it encrypts."""
    tenant_id = access.tenant_id
    masking_view, encryption_view = MaskingPolicyView.as_view(), TenantEncryptionView.as_view()
    rules_text = None
    if request.method == "POST" and request.POST.get("policy") == "masking":
        rules_text = request.POST.get("rules", "")
        try:
            rules = json.loads(rules_text)
        except ValueError as exc:
            messages.error(request, f"The masking rules are not JSON: {exc}.")
        else:
            answer = api.send(request, masking_view, "PUT", rules, tenant_id=tenant_id)
            if answer.ok:
                version = answer.data["version"]
                messages.success(request, f"Masking policy saved (version {version}).")
                return redirect("dashboard:policies")
            messages.error(request, answer.problem)
    elif request.method == "POST" and request.POST.get("policy") == "encryption":
        body = {"encrypted_fields": request.POST.getlist("encrypted_fields")}
        answer = api.send(request, encryption_view, "PUT", body, tenant_id=tenant_id)
        if answer.ok:
            messages.success(request, "Encryption policy saved; it applies to new events.")
            return redirect("dashboard:policies")
        messages.error(request, answer.problem)
    masking = api.get(request, masking_view, api.query({}), tenant_id=tenant_id)
    encryption = api.get(request, encryption_view, api.query({}), tenant_id=tenant_id)
    if rules_text is None and masking.ok:
        rules_text = json.dumps({k: masking.data[k] for k in MASKING_RULES}, indent=2)
    return page(
        request,
        "policies.html",
        access,
        masking=masking.data if masking.ok else None,
        rules_text=rules_text or "",
        encryption=encryption.data if encryption.ok else None,
        problem=masking.problem or encryption.problem,
    )
