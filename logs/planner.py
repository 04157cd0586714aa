"""Fresh planner statistics for the hot partition, and a warning when autovacuum is off.

Every event of today lands in today's partition, which was created empty
(logs/partitions.py). PostgreSQL's autovacuum would ANALYZE it once enough
rows changed; with autovacuum off (as on this project's machines) nothing
does, and the planner keeps planning for an empty table: measured, a tenant
+ time search took 10x longer until the next ANALYZE
(docs/performance.md#planner-statistics). The beat task
`logs.analyze_hot_partition` (every EVENTS_ANALYZE_SECONDS) ANALYZEs today's
partition (and yesterday's, for the hour after midnight) when its rows
changed since the last ANALYZE by EVENTS_ANALYZE_MIN_ROWS or 10 % of its
size, whichever is larger (autovacuum's rule, run by us), or as soon as a
tenant that wrote EVENTS_ANALYZE_MIN_ROWS events since is missing from its
statistics: a tenant new today is estimated at about one row until then,
and its searches read all its rows to sort them (the list query's plan is
robust once every tenant big enough to matter is in the statistics; below
EVENTS_ANALYZE_MIN_ROWS rows, reading them all is cheap).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, timedelta

from django.db import connection

logger = logging.getLogger(__name__)

CHANGED_SQL = """
    SELECT s.n_mod_since_analyze, greatest(c.reltuples, 0)::bigint
    FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
    WHERE s.schemaname = 'public' AND s.relname = %s
"""


def partition_name(day: date) -> str:
    return f"logs_event_p{day:%Y%m%d}"


def hot_days(now: datetime) -> list[date]:
    """Today (UTC), and yesterday during the first hour (late events still land there)."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=1), today] if now.astimezone(UTC).hour == 0 else [today]


def needs_analyze(changed: int, rows: int, min_rows: int) -> bool:
    return changed >= max(min_rows, rows // 10)


# Tenants new to the partition's statistics: at least `min_rows` events in
# today's batches since the partition's last ANALYZE, fewer before it. Read
# from the pipeline's batch log (one row per write: cheap to sum); pg_stats
# itself hides the statistics of tables under row-level security.
NEW_TENANTS_SQL = """
    WITH last AS (
        SELECT coalesce(
            (SELECT greatest(last_analyze, last_autoanalyze) FROM pg_stat_user_tables
             WHERE schemaname = 'public' AND relname = %(part)s), '-infinity') AS at
    ), counted AS (
        SELECT tenant_id, created_at >= last.at AS since, events
        FROM pipeline_batch, last
        WHERE kind = 'insert' AND created_at >= %(day)s
    )
    SELECT tenant_id FROM counted
    GROUP BY tenant_id
    HAVING coalesce(sum(events) FILTER (WHERE since), 0) >= %(min_rows)s
       AND coalesce(sum(events) FILTER (WHERE NOT since), 0) < %(min_rows)s
"""


def unknown_busy_tenants(cursor, day: date, min_rows: int) -> set[str]:
    """Tenants with `min_rows` events today that the partition's last ANALYZE did not
    see (fewer then): the planner estimates them at about one row, and reads them whole."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    cursor.execute(
        NEW_TENANTS_SQL, {"part": partition_name(day), "day": start, "min_rows": min_rows}
    )
    return {row[0] for row in cursor.fetchall()}


def analyze_hot_partitions(*, min_rows: int, now: datetime | None = None) -> list[str]:
    """ANALYZE the hot partitions that changed enough, or that a busy tenant is
    missing from; the names analyzed."""
    done = []
    with connection.cursor() as cursor:
        for day in hot_days(now or datetime.now(UTC)):
            cursor.execute(CHANGED_SQL, [partition_name(day)])
            found = cursor.fetchone()
            if found is None:
                continue
            if not needs_analyze(found[0], found[1], min_rows) and not unknown_busy_tenants(
                cursor, day, min_rows
            ):
                continue
            cursor.execute("SELECT auditlog_analyze_partition(%s)", [day])
            if cursor.fetchone()[0]:
                logger.info("analyzed %s (%d rows changed)", partition_name(day), found[0])
                done.append(partition_name(day))
    return done


_checked = threading.Event()


def warn_if_autovacuum_off() -> None:
    """Once per process (servers and workers call it at start-up): warn when
    PostgreSQL runs with autovacuum off. Never raises: a warning must not stop a server."""
    if _checked.is_set():
        return
    _checked.set()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('autovacuum')")
            setting = cursor.fetchone()[0]
    except Exception:  # noqa: BLE001 - the database may not answer yet
        return
    finally:
        connection.close()  # not a connection a forked worker should inherit
    if setting != "on":
        logger.warning(
            "PostgreSQL runs with autovacuum=%s: dead rows are never vacuumed and tables "
            "other than the hot events partition (ANALYZEd by the beat task "
            "logs.analyze_hot_partition) keep stale planner statistics; see "
            "docs/operations.md#planner-statistics",
            setting,
        )
