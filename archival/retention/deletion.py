"""Deleting one tenant's events of one UTC day in bounded chunks.

Each chunk is its own short transaction: at most RETENTION_DELETE_CHUNK events,
their idempotency keys and the stats-rollup marks of their hours go in one
statement, and the step's progress is counted in the same transaction, so a
crash between chunks loses and repeats nothing. Row locks are held only on the
chunk's rows for the chunk's duration; `lock_timeout`
(RETENTION_LOCK_TIMEOUT_MS) bounds any wait, and a busy chunk is retried with
backoff. Nothing here takes a table lock that readers or writers conflict with
(DELETE takes ROW EXCLUSIVE, like ingest).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.db import OperationalError, connection, transaction
from psycopg import errors

from tenants.scoping import activate

ATTEMPTS = 5

# Two statements in the chunk's transaction: pick the chunk through the
# (tenant_id, timestamp, id) index, then delete those rows by their row
# addresses (a TID scan, whatever the planner's estimates: events are never
# updated, and the pick's lock keeps VACUUM FULL and CLUSTER out until COMMIT).
# The ids re-check every row; the day's range prunes to its one partition.
PICK_SQL = """
SELECT coalesce(array_agg(ctid), '{}'), coalesce(array_agg(id), '{}') FROM (
    SELECT ctid, id FROM logs_event
    WHERE tenant_id = %(tenant)s AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
    ORDER BY "timestamp" DESC, id DESC
    LIMIT %(limit)s
) AS doomed
"""
DELETE_SQL = """
WITH gone AS (
    DELETE FROM logs_event
    WHERE ctid = ANY(%(rows)s::tid[]) AND tenant_id = %(tenant)s AND id = ANY(%(ids)s)
      AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
    RETURNING id, "timestamp"
), keys AS (
    DELETE FROM logs_event_key AS k USING gone
    WHERE k.tenant_id = %(tenant)s AND k.id = gone.id
    RETURNING 1
), marked AS (
    SELECT auditlog_stats_mark(
        %(tenant)s, array_agg(DISTINCT date_trunc('hour', "timestamp", 'UTC')))
    FROM gone
)
SELECT (SELECT count(*) FROM gone) FROM marked
"""


def count_between(tenant_id: str, start: datetime | None, end: datetime) -> int:
    """The tenant's events in [start, end) (no lower bound when `start` is None)."""
    lower = start or datetime.min.replace(tzinfo=UTC)
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM logs_event WHERE tenant_id = %s"
                ' AND "timestamp" >= %s AND "timestamp" < %s',
                [tenant_id, lower, end],
            )
            return int(cursor.fetchone()[0])


def delete_range_in_chunks(
    tenant_id: str,
    start: datetime,
    end: datetime,
    *,
    counted: Callable[[int], None] = lambda n: None,
    chunk: int | None = None,
) -> int:
    """Delete the tenant's events in [start, end), chunk by chunk; the number deleted.

    `counted(n)` runs inside each chunk's transaction (progress, fenced by the
    step's claim: if it raises, that chunk is rolled back).
    """
    limit = chunk or settings.RETENTION_DELETE_CHUNK
    total = 0
    while True:
        deleted = _chunk_with_retries(tenant_id, start, end, limit, counted)
        total += deleted
        if deleted < limit:
            return total


def _chunk_with_retries(tenant_id, start, end, limit, counted) -> int:
    for attempt in range(ATTEMPTS):
        try:
            return _chunk(tenant_id, start, end, limit, counted)
        except OperationalError as exc:
            if not isinstance(exc.__cause__, errors.LockNotAvailable) or attempt + 1 == ATTEMPTS:
                raise
            time.sleep(0.1 * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
    raise AssertionError("unreachable")


def _chunk(tenant_id, start, end, limit, counted) -> int:
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)",
                [f"{settings.RETENTION_LOCK_TIMEOUT_MS}ms"],
            )
            params = {"tenant": tenant_id, "start": start, "end": end, "limit": limit}
            cursor.execute(PICK_SQL, params)
            params["rows"], params["ids"] = cursor.fetchone()
            if not params["ids"]:
                return 0
            cursor.execute(DELETE_SQL, params)
            deleted = int(cursor.fetchone()[0])
        if deleted:
            counted(deleted)
        return deleted
