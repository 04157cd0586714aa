"""`auditlog_analyze_partition(day)`: ANALYZE one daily partition, for the application role.

Daily partitions start empty, and on a server running with autovacuum off
their statistics stay "empty" after a burst of ingest, so the planner picks
plans for an empty table (docs/performance.md#planner-statistics). The beat
task `logs.analyze_hot_partition` (logs/planner.py) calls this function when
today's partition has grown; ANALYZE needs the table's owner, hence SECURITY
DEFINER, and the function takes a date, never a name, so it can analyze
nothing but an events partition.
"""

from django.db import migrations

from tenants import db

FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_analyze_partition(day date)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
    part text := 'logs_event_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('public.' || part) IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('ANALYZE public.%I', part);
    RETURN true;
END
$fn$
"""


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTION)
        cursor.execute("REVOKE ALL ON FUNCTION auditlog_analyze_partition(date) FROM PUBLIC")
    db.grant_execute(schema_editor.connection, "auditlog_analyze_partition(date)")


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION IF EXISTS auditlog_analyze_partition(date)")


class Migration(migrations.Migration):
    dependencies = [("logs", "0006_event_masked")]

    operations = [migrations.RunPython(create, drop)]
