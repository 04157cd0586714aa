"""Writes of the logs app: storing and deleting events (partitions: logs/partitions.py)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from auditlog_project.errors import Conflict, Forbidden, Message
from encryption.rows import seal_batch
from tenants.scoping import TenantAccess

from . import fields, partitions
from .after_commit import events_committed, events_deleted
from .choices import Category
from .fields import EVENT_FIELDS
from .selectors import event_by_key
from .validation import NewEvent, retry_matches

# COPY is refused on tables with row-level security, so a batch is one INSERT
# fed by a single JSON document (jsonb_to_recordset): one parameter encoded by
# the C json module and parsed by PostgreSQL in C, several times cheaper than
# sixteen array parameters escaped in Python. The key insert and the event
# insert share the statement: only events whose key is new are stored. The
# same statement marks the UTC hours it stored events in as dirty for the
# stats rollup (logs/stats/rollup_refresh.py), so no committed event is ever missing
# from it. The columns come from logs.fields: a batch item holds the
# per-event columns (BATCH_FIELDS: client-set ones and `masked`) and
# `content_hash`; the statement's own columns (STATEMENT_SET) are parameters.


# With the pipeline on (PIPELINE_ANNOUNCE), the same statement also records the
# batch in the announcement log (pipeline/, ADR 0014), so every committed write
# has its batch row and consumers can never miss it.
ANNOUNCE_INSERT_CTE = """, announced AS (
        INSERT INTO pipeline_batch (tenant_id, kind, events, ids, timestamps)
        SELECT %(tenant_id)s, 'insert', count(*), array_agg(id), array_agg("timestamp")
        FROM stored HAVING count(*) > 0
        RETURNING 1
    )"""


def _insert_sql(*, announce: bool) -> str:
    """The ingest statement, its column lists written from logs.fields."""
    recordset = ", ".join(f'"{name}" {fields.sql_type(name)}' for name in fields.BATCH_FIELDS)
    columns = ", ".join(f'"{name}"' for name in fields.EVENT_FIELDS)
    values = ", ".join(
        f"%({name})s" if name in fields.STATEMENT_SET else f'i."{name}"'
        for name in fields.EVENT_FIELDS
    )
    return f"""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(%(batch)s::jsonb) AS i({recordset}, content_hash text)
    ), new_keys AS (
        INSERT INTO logs_event_key (tenant_id, id, "timestamp", content_hash)
        SELECT %(tenant_id)s, id, "timestamp", decode(content_hash, 'hex') FROM input
        ON CONFLICT DO NOTHING
        RETURNING id
    ), stored AS (
        INSERT INTO logs_event ({columns})
        SELECT {values}
        FROM input AS i JOIN new_keys USING (id)
        RETURNING id, host(ip_address) AS ip, "timestamp"
    ), marked AS (
        SELECT auditlog_stats_mark(
            %(tenant_id)s, array_agg(DISTINCT date_trunc('hour', "timestamp", 'UTC')))
        FROM stored
    ){ANNOUNCE_INSERT_CTE if announce else ""}
    SELECT id, ip FROM stored, marked
"""


INSERT_SQL = _insert_sql(announce=True)
INSERT_SQL_UNANNOUNCED = _insert_sql(announce=False)
STORED_KEYS_SQL = """
    SELECT id, "timestamp", content_hash FROM logs_event_key
    WHERE tenant_id = %s AND id = ANY(%s::uuid[])
"""


@dataclass(frozen=True)
class BulkResult:
    created: int
    duplicates: int
    ids: list[UUID]


@transaction.atomic(savepoint=False)
def event_create(*, access: TenantAccess, data: NewEvent) -> tuple[dict, bool]:
    """Store one validated event; (stored row, True) when new.

    Idempotent per tenant: the same id with the same content returns the stored
    row and False; the same id with other content raises Conflict (409). The
    caller has activated the tenant in this transaction (TenantScopedAPIView
    does), so row-level security checks every row written. The `user` role
    records only its own actions (Forbidden otherwise, nothing stored).
    """
    _check_actors(access, [data], bulk=False)
    new, existing = _store(access, [data])
    if new:
        return new[0], True
    return event_by_key(tenant_id=access.tenant_id, key=existing[0]), False


@transaction.atomic(savepoint=False)
def event_bulk_create(*, access: TenantAccess, events: Sequence[NewEvent]) -> BulkResult:
    """Store a validated batch, all or nothing, in the caller's transaction.

    Items whose id is already stored (or repeated in the batch) with the same
    content count as duplicates; one with other content raises Conflict and the
    whole transaction is rolled back. Receivers of `events_committed` get the new
    rows once, after COMMIT. The `user` role records only its own actions:
    one item naming another actor refuses the batch (Forbidden).
    """
    _check_actors(access, events, bulk=True)
    unique: dict[UUID, NewEvent] = {}
    for event in events:
        unique.setdefault(event.id, event)
    new, _ = _store(access, list(unique.values()))
    return BulkResult(
        created=len(new), duplicates=len(events) - len(new), ids=[e.id for e in events]
    )


def _check_actors(access: TenantAccess, events: Sequence[NewEvent], *, bulk: bool) -> None:
    """Forbidden naming each event whose `user_id` is not the caller's username,
    when the caller's role (`user`) may act only as itself; else nothing."""
    if not access.sees_only_own_events:
        return
    own = access.username
    refused = Message(
        f"The user role may only record events whose user_id is {own!r}.", "not_own_actor"
    )
    items = [{"user_id": [refused]} if e.values["user_id"] != own else {} for e in events]
    if any(items):
        raise Forbidden(
            f"Your role records only your own actions: user_id must be {own!r}.",
            {"events": items} if bulk else items[0],
        )


def _store(access: TenantAccess, events: list[NewEvent]) -> tuple[list[dict], list[tuple]]:
    return store_events(access.tenant_id, events, category=Category.APPLICATION)


def store_events(
    tenant_id: str, events: list[NewEvent], *, category: str
) -> tuple[list[dict], list[tuple]]:
    """Store validated events of one category in the active tenant's transaction:
    (new rows, stored keys of retried ids). Clients' events are `application`;
    logs.audit stores the service's own `access` and `admin` events here."""
    received_at = timezone.now()
    inserted = _insert(tenant_id, events, received_at, category)
    existing = _check_duplicates(tenant_id, [e for e in events if e.id not in inserted])
    rows = [
        _row(tenant_id, e, received_at, inserted[e.id], category)
        for e in events
        if e.id in inserted
    ]
    if rows:
        transaction.on_commit(lambda: events_committed(tenant_id, rows))
    return rows, existing


def _insert(tenant_id: str, events: list[NewEvent], received_at: datetime, category: str) -> dict:
    """Insert the events whose id is new for the tenant; {id: ip as PostgreSQL writes it}."""
    batch = [
        {
            **e.values,
            "id": str(e.id),
            "timestamp": e.timestamp.isoformat(),
            "content_hash": e.content_hash.hex(),
        }
        for e in events
    ]
    seal_batch(tenant_id, batch)  # encryption at rest: the tenant's chosen fields
    params: dict[str, Any] = {
        "tenant_id": tenant_id,
        "received_at": received_at,
        "category": category,
        "batch": json.dumps(batch, ensure_ascii=False, allow_nan=False),
    }
    with connection.cursor() as cursor, partitions.missing_partition_is_unavailable():
        cursor.execute(INSERT_SQL if settings.PIPELINE_ANNOUNCE else INSERT_SQL_UNANNOUNCED, params)
        return dict(cursor.fetchall())


def _check_duplicates(tenant_id: str, retries: list[NewEvent]) -> list[tuple]:
    """The stored keys of retried ids; Conflict when any differs in content."""
    if not retries:
        return []
    with connection.cursor() as cursor:
        cursor.execute(STORED_KEYS_SQL, [tenant_id, [e.id for e in retries]])
        stored = {row[0]: row for row in cursor.fetchall()}
    clashes = [
        str(e.id)
        for e in retries
        if e.id not in stored or not retry_matches(stored[e.id][1], stored[e.id][2], e)
    ]
    if clashes:
        raise Conflict(
            "An event with this id already exists with different content: "
            + ", ".join(clashes[:10])
        )
    return [stored[e.id] for e in retries]


def _row(tenant_id: str, e: NewEvent, received_at: datetime, ip: str | None, category: str) -> dict:
    """The stored event in the shape selectors return (the ip as PostgreSQL spells it)."""
    # Merged into _ROW_ORDER, the keys keep EVENT_FIELDS order, at C speed.
    return {
        **_ROW_ORDER,
        **e.values,
        "tenant_id": tenant_id,
        "received_at": received_at,
        "ip_address": ip,
        "category": category,
    }


_ROW_ORDER = dict.fromkeys(EVENT_FIELDS)


@transaction.atomic(savepoint=False)
def events_delete(*, access: TenantAccess, before: datetime) -> int:
    """Delete the tenant's events older than `before` with their idempotency keys.

    The one way to delete events (retention calls it after archiving): an event
    and its key always go together, in one statement, which also marks the
    hours it emptied dirty for the stats rollup, and records the deletion in the
    pipeline's announcement log, so consumers follow retention (the search
    index drops the same events). Returns the number deleted.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH gone AS (
                DELETE FROM logs_event WHERE tenant_id = %(tenant)s AND "timestamp" < %(before)s
                RETURNING id, "timestamp"
            ), keys AS (
                DELETE FROM logs_event_key AS k USING gone
                WHERE k.tenant_id = %(tenant)s AND k.id = gone.id
                RETURNING 1
            ), marked AS (
                SELECT auditlog_stats_mark(
                    %(tenant)s, array_agg(DISTINCT date_trunc('hour', "timestamp", 'UTC')))
                FROM gone
            ), announced AS (
                INSERT INTO pipeline_batch (tenant_id, kind, events, before)
                SELECT %(tenant)s, 'delete', count(*), %(before)s FROM gone
                HAVING count(*) > 0 AND %(announce)s
                RETURNING events
            )
            SELECT (SELECT count(*) FROM keys) FROM marked
            """,
            {"tenant": access.tenant_id, "before": before, "announce": settings.PIPELINE_ANNOUNCE},
        )
        deleted = cursor.fetchone()[0]
    if deleted:
        tenant_id = access.tenant_id
        transaction.on_commit(lambda: events_deleted(tenant_id, deleted))
    return deleted
