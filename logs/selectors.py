"""Reads of the logs app. Every function takes an already tenant-scoped queryset
(`TenantScopedAPIView.get_queryset()`): scoping stays in tenants.scoping, and
row-level security backs it in PostgreSQL. Rows come back with their
encrypted fields decrypted (encryption.rows.open_rows).
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from django.db.models import QuerySet, Subquery

from auditlog_project.errors import Invalid, Message
from encryption.rows import open_rows

from .fields import EVENT_FIELDS
from .filtersets import EventFilterSet
from .models import Event, EventKey
from .pagination import Page, PageRequest, keyset_page


def event_filter(*, scope: QuerySet[Event], params: Mapping[str, str]) -> QuerySet[Event]:
    """`scope` narrowed by the contract's filters; Invalid names a bad one."""
    filterset = EventFilterSet(data=params, queryset=scope)
    if not filterset.is_valid():
        raise _invalid(filterset)
    return filterset.qs


def _invalid(filterset: EventFilterSet) -> Invalid:
    return Invalid(
        {
            name: [Message(_text(e), e.code) for e in found]
            for name, found in filterset.errors.as_data().items()
        }
    )


def event_filters(params: Mapping[str, str]) -> dict:
    """The contract's filters, validated and converted (a backend-neutral form);
    Invalid names a bad one, exactly as `event_filter` does."""
    filterset = EventFilterSet(data=params, queryset=Event.objects.none())
    if not filterset.is_valid():
        raise _invalid(filterset)
    return dict(filterset.form.cleaned_data)


def _text(error) -> str:
    """A validation error's message; interpolated only when it has params (a
    message may quote the client's value, whose "%" is text: found by fuzzing)."""
    return error.message % error.params if error.params else error.message


def event_list(*, scope: QuerySet[Event], params: Mapping[str, str]) -> Page:
    """One keyset page of filtered events as dicts (one query, no COUNT)."""
    page = PageRequest.from_params(params)
    events = event_filter(scope=scope, params=params).values(*EVENT_FIELDS)
    found = keyset_page(events, page)
    open_rows(found.rows)
    return found


def event_correlation(
    *, scope: QuerySet[Event], field: str, value: str, limit: int
) -> tuple[list[dict], bool]:
    """The events in scope whose `field` (request_id or session_id) is `value`,
    oldest first, at most `limit`; and whether there were more. The value is
    checked as the list's filter of that name checks it (Invalid names it).
    Both fields have a partial index led by the tenant (logs_event_tenant_request,
    logs_event_tenant_session)."""
    matching = event_filter(scope=scope, params={field: value})
    events = matching.order_by("timestamp", "id").values(*EVENT_FIELDS)
    rows = list(events[: limit + 1])
    truncated = len(rows) > limit
    rows = rows[:limit]
    open_rows(rows)
    return rows, truncated


def event_get(*, scope: QuerySet[Event], event_id: UUID) -> dict | None:
    """The event with this id in scope, or None (not found and not visible alike).

    The key table gives the timestamp, so PostgreSQL reads one partition only.
    """
    key_time = EventKey.objects.filter(id=event_id).values("timestamp")[:1]
    row = scope.filter(id=event_id, timestamp=Subquery(key_time)).values(*EVENT_FIELDS).first()
    if row is not None:
        open_rows([row])
    return row


def event_by_key(*, tenant_id: str, key: tuple) -> dict:
    """The stored event of an idempotency key row (id, timestamp, hash).

    Used only to answer a retry whose content equals the stored event, so the
    caller learns nothing it did not send; row-level security still binds it
    to the active tenant.
    """
    event_id, timestamp = key[0], key[1]
    row = (
        Event.objects.filter(tenant_id=tenant_id, id=event_id, timestamp=timestamp)
        .values(*EVENT_FIELDS)
        .get()
    )
    open_rows([row])
    return row
