"""Row-level security on the destinations tables, like every other tenant table.

A destination is visible and writable only in a transaction whose
`app.tenant_id` (tenants.scoping.activate) names its tenant. A queue item has
no tenant column of its own: its policy admits the items of the destinations
the transaction can see (the subquery is itself under the destination's policy).
"""

from django.db import migrations

from tenants import db

QUEUE = "destinations_queueitem"
OWN_DESTINATION = "EXISTS (SELECT 1 FROM destinations_destination d WHERE d.id = destination_id)"


class Migration(migrations.Migration):
    dependencies = [("destinations", "0001_initial")]

    operations = [
        migrations.RunSQL(
            db.tenant_isolation("destinations_destination"),
            reverse_sql=[
                db.tenant_isolation_reverse("destinations_destination"),
                "ALTER TABLE destinations_destination NO FORCE ROW LEVEL SECURITY, "
                "DISABLE ROW LEVEL SECURITY",
            ],
        ),
        migrations.RunSQL(
            [
                f"ALTER TABLE {QUEUE} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY",
                f"CREATE POLICY tenant_isolation ON {QUEUE} "
                f"USING ({OWN_DESTINATION}) WITH CHECK ({OWN_DESTINATION})",
            ],
            reverse_sql=[
                db.tenant_isolation_reverse(QUEUE),
                f"ALTER TABLE {QUEUE} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY",
            ],
        ),
    ]
