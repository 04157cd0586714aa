"""The Django admin's view of one tenant's events: read-only, scoped, recorded.

`Event` has a composite primary key, which the Django admin refuses to
register, and its changelist would COUNT the whole table; so the two pages are
admin views of their own, added to the admin site's URLs and shown on its
index and sidebar as "Logs > Events" (platform administrators only: every
view goes through `admin.site.admin_view`, and the site admits superusers
only, accounts/admin.py):

- `/admin/logs/event/?tenant=ID&...`: one tenant's events, newest first, as
  the API lists them (`logs.search.backend.event_search`: the same filters,
  full-text search and keyset pages; no COUNT, no OFFSET). Nothing is read
  before a tenant is chosen. One SEARCH access event per page shown.
- `/admin/logs/event/ID/EVENT_ID/`: one event, every field, as the API's
  detail shows it to the tenant's admin (sealed fields opened, masked values
  as stored). One VIEW access event; another tenant's event is 404.

Each read goes through `tenants.scoping.admin_scope`: the tenant resolved for
the platform administrator (deactivated tenants too), activated for the
request's transaction (row-level security), and the events filtered by it;
the access event (`via` admin, the operator's username, address and
agent) is written in the same transaction, so no page is shown without it.
Nothing here adds, changes or deletes: the views answer GET only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET

from auditlog_project.errors import Invalid
from tenants.models import Tenant
from tenants.scoping import TenantAccess, TenantNotAccessible, admin_scope

from . import audit, selectors
from .choices import Category, Severity
from .fields import JSON_FIELDS
from .models import Event
from .pagination import DEFAULT_PAGE_SIZE, Cursor, PageRequest
from .search.backend import event_search
from .wire import event_json

LIST_TEMPLATE = "admin/logs/event_list.html"
DETAIL_TEMPLATE = "admin/logs/event_detail.html"
FORM_ID = "event-search"  # inputs outside the <form> element join it by this id
PAGE_SIZES = (10, 25, DEFAULT_PAGE_SIZE, 100, 200)
# The API's filters the page offers, by their API names.
FILTERS = ("q", "severity", "category", "action", "start_time", "end_time")
# Shown as pretty-printed JSON on the detail page.
PRETTY = frozenset({*JSON_FIELDS, "masked"})
LIST_COLUMNS = (
    ("timestamp", "Time (UTC)"),
    ("severity", "Severity"),
    ("action", "Action"),
    ("user_id", "Actor"),
    ("resource_type", "Resource type"),
    ("resource_id", "Resource id"),
    ("ip_address", "IP address"),
    ("category", "Category"),
)


class UtcDateTimeField(forms.CharField):
    """A time as a datetime-local box sends it (taken as UTC), or ISO 8601 with
    an offset; cleaned to ISO 8601 with an offset, as the API's filter wants it."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1", "form": FORM_ID})

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        if not text:
            return ""
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(
                "Enter a date and time in UTC, e.g. 2026-12-01T09:30.", code="invalid"
            ) from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _joined(widget: type[forms.Widget], **attrs: Any) -> forms.Widget:
    return widget(attrs={"form": FORM_ID, **attrs})


class EventSearchForm(forms.Form):
    """The listing's inputs; the API's filter set checks the values again."""

    tenant = forms.ChoiceField(label="Tenant", widget=_joined(forms.Select))
    q = forms.CharField(
        label="Search",
        required=False,
        widget=_joined(forms.TextInput, size=40, id="searchbar"),
        help_text='Full text over message, resource and metadata values (words, "phrases", '
        "-exclusions, OR), as the API's q.",
    )
    severity = forms.ChoiceField(
        label="Severity",
        required=False,
        choices=[("", "All"), *Severity.choices],
        widget=_joined(forms.Select),
    )
    category = forms.ChoiceField(
        label="Category",
        required=False,
        choices=[("", "All"), *Category.choices],
        widget=_joined(forms.Select),
    )
    action = forms.CharField(
        label="Action",
        required=False,
        widget=_joined(forms.TextInput, size=16),
        help_text="Comma-separated, case-insensitive.",
    )
    start_time = UtcDateTimeField(label="From (UTC, inclusive)", required=False)
    end_time = UtcDateTimeField(label="Until (UTC, exclusive)", required=False)
    page_size = forms.TypedChoiceField(
        label="Per page",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(size, str(size)) for size in PAGE_SIZES],
        initial=DEFAULT_PAGE_SIZE,
        widget=_joined(forms.Select),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenants = Tenant.objects.order_by("id").values_list("id", "name", "is_active")
        tenant = cast(forms.ChoiceField, self.fields["tenant"])
        tenant.choices = [("", "Choose a tenant")] + [
            (tid, f"{tid} ({name}{'' if active else ', inactive'})")
            for tid, name, active in tenants
        ]

    def api_params(self, cursor: str | None) -> dict[str, str]:
        """The cleaned inputs as the API's list parameters (newest first)."""
        params = {name: self.cleaned_data[name] for name in FILTERS if self.cleaned_data[name]}
        params["ordering"] = "-timestamp"
        params["page_size"] = str(self.cleaned_data["page_size"] or DEFAULT_PAGE_SIZE)
        if cursor:
            params["cursor"] = cursor
        return params

    def add_invalid(self, exc: Invalid) -> None:
        """The API's refusal of a parameter, shown on its input (a cursor's on the form)."""
        for name, messages in exc.errors.items():
            self.add_error(name if name in self.fields else None, [str(m) for m in messages])


def _origin(request: HttpRequest) -> audit.Origin:
    return audit.Origin.from_request(request, via="admin")


def _context(request: HttpRequest, title: str, **more: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **more}


def _link(query: QueryDict, cursor: Cursor | None) -> str | None:
    """The listing's query string at another cursor (None: no such page)."""
    if cursor is None:
        return None
    linked = query.copy()
    linked["cursor"] = cursor.encode()
    return linked.urlencode()


@require_GET
def event_list_view(request: HttpRequest) -> HttpResponse:
    form = EventSearchForm(request.GET or None)
    context = _context(
        request, "Events", form=form, form_id=FORM_ID, columns=LIST_COLUMNS, rows=None
    )
    if not form.is_bound or not form.is_valid():
        return TemplateResponse(request, LIST_TEMPLATE, context)
    params = form.api_params(request.GET.get("cursor"))
    try:  # checked before anything is read: a refused read records nothing
        selectors.event_filters(params)
        PageRequest.from_params(params)
    except Invalid as exc:
        form.add_invalid(exc)
        return TemplateResponse(request, LIST_TEMPLATE, context)
    try:
        # The read and its access event in one transaction (the request's,
        # ATOMIC_REQUESTS; the savepoint keeps a refusal from spoiling it).
        with transaction.atomic():
            access, scope = admin_scope(request.user, form.cleaned_data["tenant"], Event)
            page = event_search(scope=scope, params=params, access=access).page
            audit.record_access(
                tenant_id=access.tenant_id,
                actor=access.username,
                action=audit.AccessAction.SEARCH,
                origin=_origin(request),
                filters=audit.filters_used(params),
                result_count=len(page.rows),
                role=access.role,
                details={
                    "ordering": params["ordering"],
                    "page_size": params["page_size"],
                    "cursor": "cursor" in params,
                },
            )
    except TenantNotAccessible:  # gone since the form listed it
        form.add_error("tenant", "No such tenant.")
        return TemplateResponse(request, LIST_TEMPLATE, context)
    rows = [event_json(row) for row in page.rows]
    for row in rows:
        row["detail_url"] = reverse("admin:logs_event_detail", args=[access.tenant_id, row["id"]])
    context.update(
        tenant=access.tenant,
        rows=rows,
        newer=_link(request.GET, page.previous),
        older=_link(request.GET, page.next),
    )
    return TemplateResponse(request, LIST_TEMPLATE, context)


def _shown(value: Any, name: str) -> str:
    """A field's value as the detail page shows it: JSON pretty-printed."""
    if name in PRETTY:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "" if value is None else str(value)


@require_GET
def event_detail_view(request: HttpRequest, tenant_id: str, event_id: UUID) -> HttpResponse:
    def not_found() -> HttpResponse:
        context = _context(request, "Event not found", tenant_id=tenant_id, event_id=event_id)
        return TemplateResponse(request, DETAIL_TEMPLATE, context, status=404)

    try:
        with transaction.atomic():  # the read and its access event, as in the listing
            access, scope = admin_scope(request.user, tenant_id, Event)
            row = selectors.event_get(scope=scope, event_id=event_id)
            if row is None:
                return not_found()
            audit.record_access(
                tenant_id=access.tenant_id,
                actor=access.username,
                action=audit.AccessAction.VIEW,
                origin=_origin(request),
                filters={},
                result_count=1,
                role=access.role,
                resource_id=str(event_id),
            )
    except TenantNotAccessible:
        return not_found()
    event = event_json(row)
    fields = [(name, _shown(value, name), name in PRETTY) for name, value in event.items()]
    context = _context(
        request,
        f"Event {event['id']}",
        tenant=access.tenant,
        event=event,
        fields=fields,
        list_url=reverse("admin:logs_event_changelist") + "?" + _tenant_query(access),
    )
    return TemplateResponse(request, DETAIL_TEMPLATE, context)


def _tenant_query(access: TenantAccess) -> str:
    query = QueryDict(mutable=True)
    query["tenant"] = access.tenant_id
    return query.urlencode()


# --- On the admin site: its URLs, its index and sidebar --------------------------

_site_get_urls = admin.site.get_urls
_site_get_app_list = admin.site.get_app_list


def _get_urls() -> list:
    view = admin.site.admin_view  # the site's permission check, CSRF, never cached
    return [
        path("logs/event/", view(event_list_view), name="logs_event_changelist"),
        path(
            "logs/event/<str:tenant_id>/<uuid:event_id>/",
            view(event_detail_view),
            name="logs_event_detail",
        ),
        *_site_get_urls(),
    ]


def _get_app_list(request: HttpRequest, app_label: str | None = None) -> list[Mapping]:
    apps = _site_get_app_list(request, app_label)
    if app_label not in (None, "logs") or not admin.site.has_permission(request):
        return apps
    url = reverse("admin:logs_event_changelist", current_app=admin.site.name)
    events = {
        "model": Event,
        "name": "Events",
        "object_name": "Event",
        "perms": {"add": False, "change": False, "delete": False, "view": True},
        "admin_url": url,
        "add_url": None,
        "view_only": True,
    }
    logs = {
        "name": "Logs",
        "app_label": "logs",
        "app_url": url,
        "has_module_perms": True,
        "models": [events],
    }
    return sorted([*apps, logs], key=lambda app: str(app["name"]).lower())


admin.site.get_urls = _get_urls  # type: ignore[method-assign]
admin.site.get_app_list = _get_app_list  # type: ignore[method-assign]
