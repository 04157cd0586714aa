"""Expired events for retention tests, written straight into the table.

Ingest refuses events older than the tenant's retention (ADR 0008), which is
exactly what retention tests need; so they are inserted here as the
application role with the tenant activated (row-level security applies), with
their idempotency keys, as ingest stores them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
from django.db import connection, transaction

from tenants.scoping import activate

INSERT_SQL = """
WITH made AS (
    INSERT INTO logs_event (tenant_id, id, "timestamp", user_id, action, resource_type, severity)
    SELECT %(tenant)s, gen_random_uuid(),
           %(start)s + (n * interval '1 second' * 86399 / greatest(%(n)s, 1)),
           'ursula', 'login', 'session', 'INFO'
    FROM generate_series(0, %(n)s - 1) AS n
    RETURNING tenant_id, id, "timestamp"
)
INSERT INTO logs_event_key (tenant_id, id, "timestamp", content_hash)
SELECT tenant_id, id, "timestamp", '\\x00'::bytea FROM made
"""


def days_ago(n: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=n)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def insert_events(tenant_id: str, day: date, n: int) -> None:
    """`n` events of `tenant_id` spread over the UTC `day`, with their keys."""
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(INSERT_SQL, {"tenant": tenant_id, "start": day_start(day), "n": n})


def analyze() -> None:
    """Planner statistics of the events tables, as autovacuum keeps them in service
    (a table loaded a moment ago has none); as the owner: the application role may not."""
    from tests.conftest import _database_owner

    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        dbname=settings["NAME"],
        user=_database_owner[0],
        autocommit=True,
    ) as owner:
        owner.execute("ANALYZE logs_event")
        owner.execute("ANALYZE logs_event_key")


def counts_by_day(tenant_id: str) -> dict[date, int]:
    """The tenant's events by UTC day (the service's own audit events left out)."""
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (\"timestamp\" AT TIME ZONE 'UTC')::date, count(*) FROM logs_event "
                "WHERE tenant_id = %s AND category = 'application' GROUP BY 1 ORDER BY 1",
                [tenant_id],
            )
            return dict(cursor.fetchall())


def key_count(tenant_id: str) -> int:
    """The tenant's idempotency keys of events older than today (not the audit events
    cleanups record today)."""
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(
                'SELECT count(*) FROM logs_event_key WHERE tenant_id = %s AND "timestamp" < %s',
                [tenant_id, day_start(days_ago(0))],
            )
            return int(cursor.fetchone()[0])


def dirty_hours(tenant_id: str) -> set[datetime]:
    """The tenant's hours marked for the stats rollup."""
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT hour FROM logs_event_rollup_dirty WHERE tenant_id = %s", [tenant_id]
            )
            return {row[0] for row in cursor.fetchall()}
