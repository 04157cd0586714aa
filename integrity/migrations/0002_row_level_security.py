"""Row-level security on the integrity tables, like every other tenant table.

A leaf, a tree and a checkpoint are visible and writable only in a
transaction whose `app.tenant_id` (tenants.scoping.activate) names their
tenant. Signing keys are public and belong to no tenant.
"""

from django.db import migrations

from tenants import db

TABLES = ("integrity_leaf", "integrity_tree", "integrity_checkpoint")


class Migration(migrations.Migration):
    dependencies = [("integrity", "0001_initial")]

    operations = [
        migrations.RunSQL(
            [statement for table in TABLES for statement in db.tenant_isolation(table)],
            reverse_sql=[
                statement
                for table in TABLES
                for statement in (
                    db.tenant_isolation_reverse(table),
                    f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY",
                )
            ],
        ),
    ]
