"""Reads of the announcement log: pending batches and the events they name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace

from django.db import connection

from logs.fields import EVENT_FIELDS
from logs.models import Event
from tenants.scoping import activate

from .consumers import PendingBatch
from .watermark import Snapshot

_COLUMNS = "id, xid::text::bigint, tenant_id, kind, created_at, events, ids, timestamps, before"

# Batches finished in `now` and not in `prev`. The xid range is the index's
# bound; the visibility tests are exact. Rows of transactions still running
# are not visible to this statement either (READ COMMITTED, a newer snapshot
# than `now`): they stay pending for the next drain.
PENDING_SQL = f"""
    SELECT {_COLUMNS} FROM pipeline_batch
    WHERE xid >= pg_snapshot_xmin(%(prev)s::pg_snapshot)
      AND xid < pg_snapshot_xmax(%(now)s::pg_snapshot)
      AND pg_visible_in_snapshot(xid, %(now)s::pg_snapshot)
      AND NOT pg_visible_in_snapshot(xid, %(prev)s::pg_snapshot)
    ORDER BY xid, id
    LIMIT %(limit)s
"""


def current_snapshot() -> Snapshot:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text")
        return Snapshot.parse(cursor.fetchone()[0])


def pending(prev: Snapshot, now: Snapshot, limit: int) -> list[PendingBatch]:
    """Up to `limit` batches visible in `now` and not in `prev`, in commit-safe order."""
    with connection.cursor() as cursor:
        cursor.execute(PENDING_SQL, {"prev": str(prev), "now": str(now), "limit": limit})
        return [_batch(row) for row in cursor.fetchall()]


def by_ids(batch_ids: Iterable[int]) -> list[PendingBatch]:
    """Batches by id (redrive), in commit-safe order."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_COLUMNS} FROM pipeline_batch WHERE id = ANY(%s) ORDER BY xid, id",
            [list(batch_ids)],
        )
        return [_batch(row) for row in cursor.fetchall()]


def _batch(row: tuple) -> PendingBatch:
    ident, xid, tenant_id, kind, created_at, events, ids, timestamps, before = row
    return PendingBatch(
        id=ident,
        xid=xid,
        tenant_id=tenant_id,
        kind=kind,
        created_at=created_at,
        events=events,
        ids=tuple(ids or ()),
        timestamps=tuple(timestamps or ()),
        before=before,
    )


def with_rows(batches: list[PendingBatch]) -> list[PendingBatch]:
    """The batches with their events loaded: one query per tenant, under its RLS.

    Events deleted since (retention) are simply absent. Must run in a
    transaction (the drain's): `activate` is transaction-local.
    """
    wanted: dict[str, list[PendingBatch]] = defaultdict(list)
    for batch in batches:
        if batch.kind == "insert":
            wanted[batch.tenant_id].append(batch)
    found: dict[object, dict] = {}
    for tenant_id, group in wanted.items():
        activate(tenant_id)
        ids = [i for batch in group for i in batch.ids]
        times = [t for batch in group for t in batch.timestamps]
        # The time range prunes partitions; the ids find the rows by primary key.
        rows = Event.objects.filter(
            tenant_id=tenant_id, id__in=ids, timestamp__gte=min(times), timestamp__lte=max(times)
        )
        found.update(((tenant_id, row["id"]), row) for row in rows.values(*EVENT_FIELDS))
    activate("")
    return [
        replace(batch, rows=[found[k] for i in batch.ids if (k := (batch.tenant_id, i)) in found])
        if batch.kind == "insert"
        else batch
        for batch in batches
    ]
