"""The stats rollup: keeping `logs_event_rollup` equal to the raw events.

A hand-made continuous aggregate. Every statement that stores or deletes
events also marks the UTC hours it touched dirty (`auditlog_stats_mark`, in
the same statement: see services.INSERT_SQL and services.events_delete). The
refresh here takes a batch of a tenant's dirty hours and, in one transaction,
deletes their marks, recomputes their hour rows from the raw events, and
recomputes the day rows of their days from the hour rows. Readers
(rollup_read.py) trust the rollup only for hours (and days) without a mark.

Safe to run twice or concurrently (SQS is at-least-once): a per-tenant
advisory lock serialises refreshes of one tenant (a second one skips it), and
a recompute is a pure function of the raw events. A writer still in flight
holds its mark FOR KEY SHARE, so taking the mark waits for its COMMIT, and the
recompute, a later statement, sees its rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import connection, transaction

from tenants.scoping import activate

# Raw events (columns hour, action, severity, resource_type, user_id) as
# rollup rows (dimension, key, period, n): one GROUP BY for every dimension.
RAW_COUNTS = """
    SELECT CASE WHEN GROUPING(action) = 0 THEN 'action'
                WHEN GROUPING(severity) = 0 THEN 'severity'
                WHEN GROUPING(resource_type) = 0 THEN 'resource_type'
                WHEN GROUPING(user_id) = 0 THEN 'user_id'
                ELSE 'total' END AS dimension,
           COALESCE(action, severity, resource_type, user_id, '') AS key,
           hour AS period, count(*) AS n
    FROM ({events}) AS raw
    GROUP BY GROUPING SETS (
        (hour), (hour, action), (hour, severity), (hour, resource_type), (hour, user_id))
"""
# One index range scan over the batch's span (constant bounds: the planner
# prunes partitions; a join on the hours made it scan the tenant instead).
EVENTS_OF_HOURS = """
    SELECT date_trunc('hour', "timestamp", 'UTC') AS hour,
           action, severity, resource_type, user_id
    FROM logs_event
    WHERE tenant_id = %(tenant)s AND "timestamp" >= %(lo)s AND "timestamp" < %(hi)s
      AND date_trunc('hour', "timestamp", 'UTC') = ANY(%(hours)s::timestamptz[])
"""
# try-lock: a refresh already working on this tenant will pick up any mark
# left over, so waiting for it would only hold a worker.
LOCK_SQL = "SELECT pg_try_advisory_xact_lock(hashtext('logs_event_rollup'), hashtext(%s))"
# A batch: the dirty hours within `span` hours of the oldest one.
TAKE_DIRTY_SQL = """
    WITH oldest AS (
        SELECT min(hour) AS hour FROM logs_event_rollup_dirty WHERE tenant_id = %(tenant)s
    )
    DELETE FROM logs_event_rollup_dirty AS d USING oldest
    WHERE d.tenant_id = %(tenant)s
      AND d.hour >= oldest.hour AND d.hour < oldest.hour + %(span)s * interval '1 hour'
    RETURNING d.hour
"""
DELETE_ROWS_SQL = """
    DELETE FROM logs_event_rollup
    WHERE tenant_id = %(tenant)s AND granularity = %(granularity)s
      AND period = ANY(%(periods)s::timestamptz[])
"""
INSERT_HOURS_SQL = f"""
    INSERT INTO logs_event_rollup (tenant_id, granularity, dimension, period, key, n)
    SELECT %(tenant)s, 'hour', dimension, period, key, n
    FROM ({RAW_COUNTS.format(events=EVENTS_OF_HOURS)}) AS counts
"""
INSERT_DAYS_SQL = """
    INSERT INTO logs_event_rollup (tenant_id, granularity, dimension, period, key, n)
    SELECT %(tenant)s, 'day', r.dimension, d.day, r.key, sum(r.n)
    FROM unnest(%(days)s::timestamptz[]) AS d(day)
    JOIN logs_event_rollup AS r ON r.tenant_id = %(tenant)s AND r.granularity = 'hour'
        AND r.dimension <> 'total'
        AND r.period >= d.day AND r.period < d.day + interval '1 day'
    GROUP BY r.dimension, d.day, r.key
"""
# Every hour from `since` (default: the older of the tenant's first event and
# first rollup hour) through `until` (default: the newer of the last ones).
MARK_RANGE_SQL = """
    SELECT auditlog_stats_mark(%(tenant)s, ARRAY(
        SELECT generate_series(date_trunc('hour', lo, 'UTC'), date_trunc('hour', hi, 'UTC'),
                               interval '1 hour')
        FROM (SELECT
            COALESCE(%(since)s::timestamptz, LEAST(
                (SELECT min("timestamp") FROM logs_event WHERE tenant_id = %(tenant)s),
                (SELECT min(period) FROM logs_event_rollup WHERE tenant_id = %(tenant)s
                    AND granularity = 'hour' AND dimension = 'total'))) AS lo,
            COALESCE(%(until)s::timestamptz, GREATEST(
                (SELECT max("timestamp") FROM logs_event WHERE tenant_id = %(tenant)s),
                (SELECT max(period) FROM logs_event_rollup WHERE tenant_id = %(tenant)s
                    AND granularity = 'hour' AND dimension = 'total'))) AS hi
        ) AS span
    ))
"""


def dirty_tenants() -> list[str]:
    """The tenants that have dirty hours (read by the owner-run SQL function)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT auditlog_stats_dirty_tenants()")
        return [row[0] for row in cursor.fetchall()]


def rollup_refresh(*, tenant_id: str, batch_hours: int) -> int:
    """Recompute the tenant's dirty hours within `batch_hours` of its oldest; how many.

    One transaction: the marks go, the hour rows and their days' rows are
    replaced, together. 0 when nothing is dirty or another refresh holds the
    tenant. Idempotent.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        activate(tenant_id)
        cursor.execute(LOCK_SQL, [tenant_id])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(TAKE_DIRTY_SQL, {"tenant": tenant_id, "span": batch_hours})
        hours = sorted(row[0] for row in cursor.fetchall())
        if hours:
            _recompute(cursor, tenant_id, hours)
        return len(hours)


def _recompute(cursor, tenant_id: str, hours: list[datetime]) -> None:
    days = sorted({hour.replace(hour=0) for hour in hours})
    cursor.execute(
        DELETE_ROWS_SQL,
        {"tenant": tenant_id, "granularity": "hour", "periods": hours},
    )
    cursor.execute(
        INSERT_HOURS_SQL,
        {"tenant": tenant_id, "hours": hours, "lo": hours[0], "hi": hours[-1] + timedelta(hours=1)},
    )
    cursor.execute(
        DELETE_ROWS_SQL,
        {"tenant": tenant_id, "granularity": "day", "periods": days},
    )
    cursor.execute(INSERT_DAYS_SQL, {"tenant": tenant_id, "days": days})


def rollup_drain(
    *, tenant_ids: Iterable[str], batch_hours: int, max_batches: int | None = None
) -> int:
    """Refresh the tenants until none of their hours is dirty; hours recomputed.

    `max_batches` bounds the work per tenant (a tenant under constant ingest
    re-marks its current hour while it is being refreshed).
    """
    done = 0
    for tenant_id in tenant_ids:
        batches = 0
        while max_batches is None or batches < max_batches:
            count = rollup_refresh(tenant_id=tenant_id, batch_hours=batch_hours)
            if not count:
                break
            done, batches = done + count, batches + 1
    return done


def rollup_rebuild(
    *, tenant_id: str, since: datetime | None, until: datetime | None, batch_hours: int
) -> int:
    """Recompute every hour of the tenant in [since, until] (hours that overlap it).

    Without bounds: from the oldest to the newest hour that has events or
    rollup rows. For data written around the marking (a COPY, a restore, a
    backfill after deploy). Returns the hours recomputed.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        activate(tenant_id)
        cursor.execute(MARK_RANGE_SQL, {"tenant": tenant_id, "since": since, "until": until})
        marked = cursor.fetchone()[0] or 0
    # Bounded: ingest keeps re-marking the current hour while this runs.
    return rollup_drain(
        tenant_ids=[tenant_id], batch_hours=batch_hours, max_batches=marked // batch_hours + 2
    )
