"""Partitions without a DEFAULT: daily partitions from a floor day on, one history
partition below it, and a partition function that locks nothing readers or
writers of events use (docs/adr/0008-partitions-ahead-never-in-a-request.md).

The DEFAULT partition of 0001 cost every request that created a partition an
ACCESS EXCLUSIVE lock on it, which every read without a time range waits for.
Here it becomes `logs_event_history`, a plain range partition
`FROM (MINVALUE) TO (floor)`, where the floor is the start of the UTC day
EVENTS_PARTITIONS_BEHIND days before the migration. Days from the floor on
get daily partitions (now, and ahead by beat); older accepted events land in
history. Attaching a new daily partition then takes SHARE UPDATE EXCLUSIVE on
`logs_event` (no conflict with SELECT, INSERT, UPDATE or DELETE) and ACCESS
EXCLUSIVE only on the new, empty table.

Rows already stored are kept: daily partitions older than the floor are merged
into history, DEFAULT rows from the floor on are moved into their daily
partitions first. This migration locks `logs_event` and scans the old DEFAULT
partition once; docs/operations.md says when to run it. With TimescaleDB
(no partitions) it only replaces the function, which then does nothing.
"""

import importlib
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import migrations

INITIAL = importlib.import_module("logs.migrations.0001_initial")

HISTORY = "logs_event_history"

# The lower bound of daily partitions: the upper bound of the history partition
# (NULL without one, i.e. with a hypertable). The bound is stored only in the
# catalog, as the text of the partition bound; it is read back in the same
# session that prints it, so DateStyle and TimeZone cannot garble it.
FLOOR_FUNCTION = r"""
CREATE OR REPLACE FUNCTION auditlog_partition_floor()
RETURNS date
LANGUAGE sql
STABLE
SET search_path = public, pg_temp
AS $fn$
    SELECT (substring(pg_get_expr(c.relpartbound, c.oid) FROM $re$ TO \('([^']+)'\)$re$)
            ::timestamptz AT TIME ZONE 'UTC')::date
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname = 'logs_event_history' AND c.relispartition
$fn$
"""

# Creates the missing daily partitions of [from_day, to_day] (UTC days) from the
# floor on; days below it belong to history and are skipped. Runs as the owner
# (SECURITY DEFINER): the application role may not run DDL. Each partition is
# created as a standalone table (locks only itself; LIKE reads the parent's
# definition under ACCESS SHARE), given row-level security, then attached:
# SHARE UPDATE EXCLUSIVE on logs_event and its indexes, SHARE ROW EXCLUSIVE on
# tenants_tenant (the foreign key is cloned), ACCESS EXCLUSIVE on the new table,
# and no scan of anything but the new, empty table. Callers keep it to one day per
# transaction with a lock_timeout (logs/partitions.py). An advisory lock
# serialises concurrent creators; existence is re-checked after it.
ENSURE_FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_ensure_partitions(from_day date, to_day date)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
    floor_day date := auditlog_partition_floor();
    day date;
    part text;
    created integer := 0;
    locked boolean := false;
BEGIN
    IF from_day IS NULL OR to_day IS NULL OR to_day < from_day THEN
        RAISE EXCEPTION 'auditlog_ensure_partitions: invalid range % .. %', from_day, to_day
            USING ERRCODE = '22023';
    END IF;
    IF to_day - from_day > 400 THEN
        RAISE EXCEPTION 'auditlog_ensure_partitions: at most 401 days per call'
            USING ERRCODE = '22023';
    END IF;
    IF floor_day IS NULL THEN
        RETURN 0;  -- no history partition: a TimescaleDB hypertable makes its own chunks
    END IF;
    FOR day IN SELECT d::date FROM generate_series(greatest(from_day, floor_day), to_day,
                                                   interval '1 day') AS d LOOP
        part := 'logs_event_p' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('public.' || quote_ident(part)) IS NOT NULL;
        IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(hashtext('auditlog_ensure_partitions'));
            locked := true;
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = 'public' AND c.relname = part);
        EXECUTE format('CREATE TABLE %I (LIKE logs_event INCLUDING DEFAULTS INCLUDING GENERATED '
                       'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', part);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I %s', part, __POLICY__);
        EXECUTE format('ALTER TABLE logs_event ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, day::timestamp AT TIME ZONE 'UTC',
                       (day + 1)::timestamp AT TIME ZONE 'UTC');
        created := created + 1;
    END LOOP;
    RETURN created;
END;
$fn$;
"""


def _sql(template: str) -> str:
    return template.replace("__POLICY__", "'" + INITIAL.TENANT_POLICY.replace("'", "''") + "'")


def _query(cursor, statement: str, params=None) -> list[tuple]:
    cursor.execute(statement, params)
    return cursor.fetchall()


def _partitioned(cursor) -> bool:
    return bool(
        _query(
            cursor,
            "SELECT 1 FROM pg_partitioned_table WHERE partrelid = 'public.logs_event'::regclass",
        )
    )


def _columns(cursor) -> str:
    """The stored (non-generated) columns of logs_event, quoted, in order."""
    return _query(
        cursor,
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = 'public.logs_event'::regclass AND attnum > 0 "
        "AND NOT attisdropped AND attgenerated = ''",
    )[0][0]


def _daily_before(cursor, floor) -> list[str]:
    """Daily partitions that end at or before the floor (made on demand by 0001's ingest)."""
    return [
        name
        for (name,) in _query(
            cursor,
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'public.logs_event'::regclass "
            "AND c.relname ~ '^logs_event_p[0-9]{8}$' "
            "AND to_date(substr(c.relname, 13), 'YYYYMMDD') < %s ORDER BY 1",
            [floor.date()],
        )
    ]


def _merge_old_daily_into_default(cursor, floor, cols: str) -> None:
    """Move daily partitions older than the floor into DEFAULT (soon history), drop them."""
    for name in _daily_before(cursor, floor):
        cursor.execute(f"ALTER TABLE logs_event DETACH PARTITION {name}")
        cursor.execute(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY")
        cursor.execute(
            f"INSERT INTO logs_event_default ({cols}) SELECT {cols} FROM {name}"  # noqa: S608
        )
        cursor.execute(f"DROP TABLE {name}")


def _move_recent_default_rows(cursor, floor) -> None:
    """DEFAULT rows from the floor on go to their daily partitions (0001's function moves them)."""
    days = _query(
        cursor,
        "SELECT DISTINCT (\"timestamp\" AT TIME ZONE 'UTC')::date FROM logs_event_default "
        'WHERE "timestamp" >= %s ORDER BY 1',
        [floor],
    )
    for (day,) in days:
        cursor.execute("SELECT auditlog_ensure_partitions(%s, %s)", [day, day])


def _ensure_daily(cursor, first, last) -> None:
    while first <= last:
        upto = min(last, first + timedelta(days=400))
        cursor.execute("SELECT auditlog_ensure_partitions(%s, %s)", [first, upto])
        first = upto + timedelta(days=1)


def forwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FLOOR_FUNCTION)
        if not _partitioned(cursor):
            cursor.execute(_sql(ENSURE_FUNCTION))
            return
        today = datetime.now(UTC).date()
        floor_day = today - timedelta(days=settings.EVENTS_PARTITIONS_BEHIND)
        floor = datetime(floor_day.year, floor_day.month, floor_day.day, tzinfo=UTC)
        cols = _columns(cursor)
        # FORCE binds the owner to the policy too; lifted while rows are moved.
        cursor.execute("ALTER TABLE logs_event_default NO FORCE ROW LEVEL SECURITY")
        _merge_old_daily_into_default(cursor, floor, cols)
        _move_recent_default_rows(cursor, floor)
        cursor.execute("ALTER TABLE logs_event DETACH PARTITION logs_event_default")
        cursor.execute(f"ALTER TABLE logs_event_default RENAME TO {HISTORY}")
        cursor.execute(
            f"ALTER TABLE logs_event ATTACH PARTITION {HISTORY} FOR VALUES FROM (MINVALUE) TO (%s)",
            [floor],
        )
        cursor.execute(f"ALTER TABLE {HISTORY} FORCE ROW LEVEL SECURITY")
        cursor.execute(_sql(ENSURE_FUNCTION))
        _ensure_daily(cursor, floor_day, today + timedelta(days=settings.EVENTS_PARTITIONS_AHEAD))


def backwards(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if _partitioned(cursor):
            cursor.execute(f"ALTER TABLE logs_event DETACH PARTITION {HISTORY}")
            cursor.execute(f"ALTER TABLE {HISTORY} RENAME TO logs_event_default")
            cursor.execute("ALTER TABLE logs_event ATTACH PARTITION logs_event_default DEFAULT")
        cursor.execute(_sql(INITIAL.ENSURE_FUNCTION))
        cursor.execute("DROP FUNCTION IF EXISTS auditlog_partition_floor()")


class Migration(migrations.Migration):
    dependencies = [
        ("logs", "0002_event_rollup"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
