"""Index events by (tenant, session_id, timestamp, id) where a session is
given: the correlation timeline (GET /api/v1/logs/correlation?session_id=)
reads one session's events in order without scanning the tenant's history,
and a long session stops at the cap instead of being sorted whole. Partial,
like the request_id index: events without a session pay nothing at insert.

Plain SQL on the partitioned parent (it cascades to every partition, and to
future ones), with the model state's index declared beside it. It is built
in one statement, which blocks writes to the events table meanwhile: on a
large existing database, build it on each partition first with CREATE INDEX
CONCURRENTLY (same columns and predicate); this statement then attaches them
(docs/operations.md, "Migrations").
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("logs", "0008_drop_partition")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "CREATE INDEX IF NOT EXISTS logs_event_tenant_session ON logs_event "
                    "(tenant_id, session_id, timestamp, id) WHERE session_id IS NOT NULL",
                    "DROP INDEX IF EXISTS logs_event_tenant_session",
                )
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="event",
                    index=models.Index(
                        condition=models.Q(session_id__isnull=False),
                        fields=["tenant", "session_id", "timestamp", "id"],
                        name="logs_event_tenant_session",
                    ),
                )
            ],
        )
    ]
