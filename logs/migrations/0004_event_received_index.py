"""Index events by (tenant, received_at, id) for the live stream's resume replay.

A resuming subscriber reads "this tenant's events received since T" in that
order (logs.stream.replay); the other indexes all lead with the event's own
timestamp, which a client may date in the past, so they cannot answer it
without reading the tenant's whole history. Plain SQL on the partitioned
parent (it cascades to every partition, and to future ones); the ORM's model
state does not list it, like the other hand-written pieces of 0001.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("logs", "0003_partitions_history")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS logs_event_tenant_received "
            "ON logs_event (tenant_id, received_at, id)",
            "DROP INDEX IF EXISTS logs_event_tenant_received",
        )
    ]
