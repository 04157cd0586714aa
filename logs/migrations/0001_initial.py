"""The events table (partitioned by day, or a TimescaleDB hypertable), its keys,
row-level security, and the partition maintenance function.

Django cannot declare a partitioned table, so the model state comes from
`CreateModel` while the database side is hand-written SQL
(SeparateDatabaseAndState); `makemigrations --check` compares states only.
"""

import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models

from tenants import db

TENANT_POLICY = db.TENANT_POLICY  # ENSURE_FUNCTION and 0003 put it on new partitions

COLUMNS = """
    tenant_id varchar(63) NOT NULL
        CONSTRAINT logs_event_tenant_id_fk REFERENCES tenants_tenant (id),
    id uuid NOT NULL,
    "timestamp" timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT STATEMENT_TIMESTAMP(),
    user_id varchar(255) NOT NULL,
    session_id varchar(255),
    action varchar(64) NOT NULL,
    resource_type varchar(128) NOT NULL,
    resource_id varchar(255),
    severity varchar(8) NOT NULL
        CONSTRAINT logs_event_severity_valid
        CHECK (severity IN ('INFO', 'WARNING', 'ERROR', 'CRITICAL')),
    ip_address inet,
    user_agent varchar(1024),
    message text {lz4},
    before jsonb {lz4},
    after jsonb {lz4},
    metadata jsonb {lz4},
    request_id varchar(128),
    -- full text over message, resource and metadata values ('simple': no stemming,
    -- identifiers and mixed languages stay searchable as written)
    search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig,
            coalesce(message, '') || ' ' || resource_type || ' ' || coalesce(resource_id, ''))
        || jsonb_to_tsvector('simple'::regconfig, coalesce(metadata, '{{}}'::jsonb),
            '["string", "numeric"]'::jsonb)
    ) STORED,
    CONSTRAINT logs_event_pkey PRIMARY KEY (tenant_id, id, "timestamp")
"""

INDEXES = """
CREATE INDEX logs_event_tenant_time ON logs_event (tenant_id, "timestamp" DESC, id DESC);
CREATE INDEX logs_event_tenant_user ON logs_event (tenant_id, user_id, "timestamp" DESC);
CREATE INDEX logs_event_tenant_action ON logs_event (tenant_id, action, "timestamp" DESC);
CREATE INDEX logs_event_tenant_resource
    ON logs_event (tenant_id, resource_type, resource_id, "timestamp" DESC);
CREATE INDEX logs_event_tenant_request ON logs_event (tenant_id, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX logs_event_tenant_severity ON logs_event (tenant_id, severity, "timestamp" DESC)
    WHERE NOT (severity = 'INFO');
"""
# Full text, tenant first: with btree_gin one GIN index holds (tenant_id, lexeme),
# so a common word in a big tenant does not drag every tenant's postings along.
SEARCH_INDEX_TENANT_FIRST = (
    "CREATE INDEX logs_event_search ON logs_event USING gin (tenant_id, search_vector)"
)
SEARCH_INDEX_PLAIN = "CREATE INDEX logs_event_search ON logs_event USING gin (search_vector)"

# Creates the missing daily partitions of [from_day, to_day] (UTC days). Runs as
# the owner (SECURITY DEFINER) because the application role may not run DDL.
# Rows that already sit in the DEFAULT partition for a day are moved into the new
# partition before it is attached (ATTACH would refuse otherwise). FORCE ROW
# LEVEL SECURITY binds the owner too, so the default partition is un-forced for
# the move and forced again before returning: all in the caller's transaction,
# under the ACCESS EXCLUSIVE lock ATTACH takes anyway, so nobody sees it in between.
# An advisory lock serialises concurrent creators; existence is re-checked with
# plain SQL after it (the catalog caches may lag). Returns the number created.
ENSURE_FUNCTION = """
CREATE OR REPLACE FUNCTION auditlog_ensure_partitions(from_day date, to_day date)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $fn$
DECLARE
    day date;
    part text;
    lo timestamptz;
    hi timestamptz;
    cols text;
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
    IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table
                   WHERE partrelid = 'public.logs_event'::regclass) THEN
        RETURN 0;  -- a TimescaleDB hypertable creates its own chunks
    END IF;
    FOR day IN SELECT d::date FROM generate_series(from_day, to_day, interval '1 day') AS d LOOP
        part := 'logs_event_p' || to_char(day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('public.' || quote_ident(part)) IS NOT NULL;
        IF NOT locked THEN
            PERFORM pg_advisory_xact_lock(hashtext('auditlog_ensure_partitions'));
            locked := true;
            ALTER TABLE logs_event_default NO FORCE ROW LEVEL SECURITY;
            SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
            FROM pg_attribute
            WHERE attrelid = 'public.logs_event'::regclass AND attnum > 0
              AND NOT attisdropped AND attgenerated = '';
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                              WHERE n.nspname = 'public' AND c.relname = part);
        lo := day::timestamp AT TIME ZONE 'UTC';
        hi := (day + 1)::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('CREATE TABLE %I (LIKE logs_event INCLUDING DEFAULTS INCLUDING GENERATED '
                       'INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', part);
        EXECUTE format('WITH moved AS (DELETE FROM logs_event_default WHERE "timestamp" >= %L '
                       'AND "timestamp" < %L RETURNING %s) INSERT INTO %I (%s) SELECT %s FROM moved',
                       lo, hi, cols, part, cols, cols);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY', part);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I %s', part, __POLICY__);
        EXECUTE format('ALTER TABLE logs_event ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                       part, lo, hi);
        created := created + 1;
    END LOOP;
    IF locked THEN
        ALTER TABLE logs_event_default FORCE ROW LEVEL SECURITY;
    END IF;
    RETURN created;
END;
$fn$;
"""


def _has_extension(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_extension WHERE extname = %s", [name])
    return cursor.fetchone() is not None


def _supports_lz4(cursor) -> bool:
    cursor.execute(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _can_use_btree_gin(cursor) -> bool:
    """btree_gin is a trusted extension: a database owner may create it."""
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gin')"
        " AND has_database_privilege(current_database(), 'CREATE')"
    )
    return bool(cursor.fetchone()[0])


def _rls(execute, table: str) -> None:
    for statement in db.tenant_isolation(table):
        execute(statement)


def _executor(schema_editor):
    # Not schema_editor.execute: it formats statements with `%`, and the plpgsql
    # below is full of format() placeholders. Nothing here takes parameters.
    def execute(statement: str) -> None:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(statement)

    return execute


def create_events_table(apps, schema_editor):
    execute = _executor(schema_editor)
    with schema_editor.connection.cursor() as cursor:
        timescale = _has_extension(cursor, "timescaledb")
        lz4 = "COMPRESSION lz4" if _supports_lz4(cursor) else ""
        btree_gin = _can_use_btree_gin(cursor)
    columns = COLUMNS.format(lz4=lz4)
    if timescale:
        # Untested here (TimescaleDB is not installable on the project's machines):
        # a hypertable with daily chunks, compressed per tenant after a week.
        execute(f"CREATE TABLE logs_event ({columns})")
        execute(
            "SELECT create_hypertable('logs_event', 'timestamp', "
            "chunk_time_interval => INTERVAL '1 day')"
        )
        execute(
            "ALTER TABLE logs_event SET (timescaledb.compress, "
            "timescaledb.compress_segmentby = 'tenant_id', "
            "timescaledb.compress_orderby = '\"timestamp\" DESC, id DESC')"
        )
        execute("SELECT add_compression_policy('logs_event', INTERVAL '7 days')")
    else:
        execute(f'CREATE TABLE logs_event ({columns}) PARTITION BY RANGE ("timestamp")')
        execute("CREATE TABLE logs_event_default PARTITION OF logs_event DEFAULT")
        _rls(execute, "logs_event_default")
    for statement in INDEXES.strip().split(";"):
        if statement.strip():
            execute(statement)
    if btree_gin:
        execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    execute(SEARCH_INDEX_TENANT_FIRST if btree_gin else SEARCH_INDEX_PLAIN)
    _rls(execute, "logs_event")
    execute(ENSURE_FUNCTION.replace("__POLICY__", "'" + TENANT_POLICY.replace("'", "''") + "'"))
    execute("REVOKE ALL ON FUNCTION auditlog_ensure_partitions(date, date) FROM PUBLIC")
    db.grant_execute(schema_editor.connection, "auditlog_ensure_partitions(date, date)")
    execute("SELECT auditlog_ensure_partitions(CURRENT_DATE - 1, CURRENT_DATE + 7)")


def drop_events_table(apps, schema_editor):
    execute = _executor(schema_editor)
    execute("DROP FUNCTION IF EXISTS auditlog_ensure_partitions(date, date)")
    execute("DROP TABLE IF EXISTS logs_event CASCADE")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="EventKey",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "tenant_id",
                        "id",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("tenant_id", models.CharField(max_length=63)),
                ("id", models.UUIDField()),
                ("timestamp", models.DateTimeField()),
                ("content_hash", models.BinaryField(max_length=16)),
            ],
            options={
                "db_table": "logs_event_key",
            },
        ),
        migrations.RunSQL(
            db.tenant_isolation("logs_event_key"),
            reverse_sql=[db.tenant_isolation_reverse("logs_event_key")],
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunPython(create_events_table, drop_events_table),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="Event",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "tenant",
                                "id",
                                "timestamp",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("id", models.UUIDField()),
                        ("timestamp", models.DateTimeField()),
                        (
                            "received_at",
                            models.DateTimeField(
                                db_default=django.db.models.functions.datetime.Now()
                            ),
                        ),
                        ("user_id", models.CharField(max_length=255)),
                        ("session_id", models.CharField(max_length=255, null=True)),
                        ("action", models.CharField(max_length=64)),
                        ("resource_type", models.CharField(max_length=128)),
                        ("resource_id", models.CharField(max_length=255, null=True)),
                        (
                            "severity",
                            models.CharField(
                                choices=[
                                    ("INFO", "Info"),
                                    ("WARNING", "Warning"),
                                    ("ERROR", "Error"),
                                    ("CRITICAL", "Critical"),
                                ],
                                default="INFO",
                                max_length=8,
                            ),
                        ),
                        ("ip_address", models.GenericIPAddressField(null=True)),
                        ("user_agent", models.CharField(max_length=1024, null=True)),
                        ("message", models.TextField(null=True)),
                        ("before", models.JSONField(null=True)),
                        ("after", models.JSONField(null=True)),
                        ("metadata", models.JSONField(null=True)),
                        ("request_id", models.CharField(max_length=128, null=True)),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="tenants.tenant",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "logs_event",
                        "indexes": [
                            models.Index(
                                fields=["tenant", "-timestamp", "-id"],
                                name="logs_event_tenant_time",
                            ),
                            models.Index(
                                fields=["tenant", "user_id", "-timestamp"],
                                name="logs_event_tenant_user",
                            ),
                            models.Index(
                                fields=["tenant", "action", "-timestamp"],
                                name="logs_event_tenant_action",
                            ),
                            models.Index(
                                fields=["tenant", "resource_type", "resource_id", "-timestamp"],
                                name="logs_event_tenant_resource",
                            ),
                            models.Index(
                                condition=models.Q(("request_id__isnull", False)),
                                fields=["tenant", "request_id"],
                                name="logs_event_tenant_request",
                            ),
                            models.Index(
                                condition=models.Q(("severity", "INFO"), _negated=True),
                                fields=["tenant", "severity", "-timestamp"],
                                name="logs_event_tenant_severity",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
