"""The pipeline's tables: the announcement log (hand-written), watermarks, failures.

`pipeline_batch` gets one row per committed write, inserted by the same
statement as the events (logs/services.py). `xid` is the writer's
transaction id, which consumers compare with their watermark snapshot
(pipeline/watermark.py, ADR 0010). Row-level security: a row can only be
written for the transaction's tenant (`app.tenant_id`); reading and pruning
are open to the application role, because the rows hold ids and counts, no
event content, and the workers read every tenant's batches.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

BATCH_SQL = """
CREATE TABLE pipeline_batch (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    tenant_id varchar(63) NOT NULL,
    kind varchar(6) NOT NULL CHECK (kind IN ('insert', 'delete')),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    events integer NOT NULL,
    ids uuid[],
    timestamps timestamptz[],
    before timestamptz
);
CREATE INDEX pipeline_batch_xid ON pipeline_batch (xid);
CREATE INDEX pipeline_batch_created ON pipeline_batch (created_at);
ALTER TABLE pipeline_batch ENABLE ROW LEVEL SECURITY;
ALTER TABLE pipeline_batch FORCE ROW LEVEL SECURITY;
CREATE POLICY pipeline_batch_write ON pipeline_batch FOR INSERT
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY pipeline_batch_read ON pipeline_batch FOR SELECT USING (true);
CREATE POLICY pipeline_batch_prune ON pipeline_batch FOR DELETE USING (true);
"""


class Migration(migrations.Migration):
    initial = True

    dependencies = [("logs", "0004_event_received_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(BATCH_SQL, "DROP TABLE IF EXISTS pipeline_batch"),
            ],
            state_operations=[
                migrations.CreateModel(
                    name="Batch",
                    fields=[
                        ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("tenant_id", models.CharField(max_length=63)),
                        ("kind", models.CharField(max_length=6)),
                        ("created_at", models.DateTimeField()),
                        ("events", models.IntegerField()),
                        (
                            "ids",
                            django.contrib.postgres.fields.ArrayField(
                                base_field=models.UUIDField(), null=True, size=None
                            ),
                        ),
                        (
                            "timestamps",
                            django.contrib.postgres.fields.ArrayField(
                                base_field=models.DateTimeField(), null=True, size=None
                            ),
                        ),
                        ("before", models.DateTimeField(null=True)),
                    ],
                    options={"db_table": "pipeline_batch"},
                ),
            ],
        ),
        migrations.CreateModel(
            name="ConsumerState",
            fields=[
                ("name", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("watermark", models.TextField()),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("batches_done", models.BigIntegerField(default=0)),
                ("events_done", models.BigIntegerField(default=0)),
                ("batches_dead", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="BatchFailure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("consumer", models.CharField(max_length=64)),
                ("batch_id", models.BigIntegerField()),
                ("tenant_id", models.CharField(max_length=63)),
                ("attempts", models.IntegerField(default=0)),
                ("last_error", models.TextField(default="")),
                ("first_failed_at", models.DateTimeField(auto_now_add=True)),
                ("dead_at", models.DateTimeField(null=True)),
                ("redriven_at", models.DateTimeField(null=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("consumer", "batch_id"), name="pipeline_failure_once"
                    )
                ],
            },
        ),
    ]
