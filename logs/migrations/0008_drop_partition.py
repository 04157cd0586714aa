"""`auditlog_drop_partition(day, max_age_days)`: drop one daily partition whose
rows retention would delete anyway (docs/adr/0018-retention-jobs-on-sqs.md).

The application role may not run DDL, hence SECURITY DEFINER, owned by the
owner role, executable by the application role only (never PUBLIC). It takes a
date, never a name: only a daily partition `logs_event_pYYYYMMDD` can be
dropped, never the history partition.

The rule, checked under a SHARE lock on the partition (no row enters or leaves
while it is decided), conservative on every count:
1. the day is below every tenant's accepted window: older than
   least(max_age_days, the longest retention_days of any tenant) days, so no
   ingest may write it and logs/partitions.py will not create it again;
2. for every tenant with rows in it: the day is past that tenant's own
   retention (day < today - retention_days, the same whole-day cutoff as the
   retention job) and, when its policy archives, a VERIFIED archived day with
   exactly as many rows exists.
An empty partition passes 2 trivially. If any check fails nothing changes and
the answer says why. Otherwise each tenant's idempotency keys of those rows are
deleted and the hours are marked for the stats rollup (what the chunked delete
does per chunk), then DETACH and DROP. The plain DETACH takes ACCESS EXCLUSIVE
on logs_event until COMMIT: callers run one day per transaction with a short
lock_timeout and retry (archival/retention/dropping.py). The tables FORCE
row-level security on the owner too, so each tenant is read under its own
`app.tenant_id`, as migration 0002 does.
"""

from django.db import migrations

from tenants import db

FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_drop_partition(part_day date, max_age_days integer)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
    part text := 'logs_event_p' || to_char(part_day, 'YYYYMMDD');
    today date := (now() AT TIME ZONE 'UTC')::date;
    window_days integer;
    t record;
    n bigint;
    total bigint := 0;
    tenants text[] := '{}';
    tid text;
    held timestamptz;
BEGIN
    IF part_day IS NULL OR max_age_days IS NULL OR max_age_days < 1 THEN
        RAISE EXCEPTION 'auditlog_drop_partition: invalid arguments' USING ERRCODE = '22023';
    END IF;
    IF to_regclass('public.' || quote_ident(part)) IS NULL THEN
        RETURN jsonb_build_object('outcome', 'absent');
    END IF;
    SELECT least(max_age_days, coalesce(max(retention_days), max_age_days))
        INTO window_days FROM tenants_tenant;
    IF part_day >= today - window_days THEN
        RETURN jsonb_build_object('outcome', 'kept', 'reason', 'inside the accepted window');
    END IF;
    EXECUTE format('LOCK TABLE public.%I IN SHARE MODE', part);
    FOR t IN SELECT id, retention_days, archive_before_delete FROM tenants_tenant ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t.id, true);
        EXECUTE format('SELECT count(*) FROM public.%I WHERE tenant_id = $1', part)
            INTO n USING t.id;
        CONTINUE WHEN n = 0;
        IF part_day >= today - t.retention_days THEN
            RETURN jsonb_build_object('outcome', 'kept', 'reason',
                                      format('tenant %s: not past its retention', t.id));
        END IF;
        IF t.archive_before_delete AND NOT EXISTS (
            SELECT 1 FROM archival_archived_day AS a
            WHERE a.tenant_id = t.id AND a.day = part_day AND a.state = 'verified'
              AND a.row_count = n
        ) THEN
            RETURN jsonb_build_object('outcome', 'kept', 'reason',
                                      format('tenant %s: not archived and verified', t.id));
        END IF;
        tenants := tenants || t.id::text;
        total := total + n;
    END LOOP;
    FOREACH tid IN ARRAY tenants LOOP
        PERFORM set_config('app.tenant_id', tid, true);
        EXECUTE format('DELETE FROM logs_event_key AS k USING public.%I AS e '
                       'WHERE k.tenant_id = $1 AND e.tenant_id = $1 AND k.id = e.id', part)
            USING tid;
        EXECUTE format('SELECT auditlog_stats_mark($1, ARRAY(SELECT DISTINCT '
                       'date_trunc(''hour'', "timestamp", ''UTC'') FROM public.%I '
                       'WHERE tenant_id = $1))', part)
            USING tid;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
    held := clock_timestamp();
    EXECUTE format('ALTER TABLE logs_event DETACH PARTITION public.%I', part);
    EXECUTE format('DROP TABLE public.%I', part);
    RETURN jsonb_build_object(
        'outcome', 'dropped', 'tenants', to_jsonb(tenants), 'rows', total,
        'detach_ms', extract(epoch FROM clock_timestamp() - held) * 1000);
END
$fn$
"""

SIGNATURE = "auditlog_drop_partition(date, integer)"


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(FUNCTION)
        cursor.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    db.grant_execute(schema_editor.connection, SIGNATURE)


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")


class Migration(migrations.Migration):
    dependencies = [
        ("logs", "0007_analyze_partition"),
        ("archival", "0001_initial"),
        ("tenants", "0004_archive_before_delete_db_default"),
    ]

    operations = [migrations.RunPython(create, drop)]
