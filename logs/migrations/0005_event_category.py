"""The `category` column: `application` (sent by clients), `access` and `admin`
(the service's own audit trail, logs/audit.py).

Plain SQL on the partitioned parent, as in 0001: it cascades to every
partition and to future ones. A constant default makes ADD COLUMN a catalog
change (no rewrite); the CHECK constraint is verified by one scan of the
existing rows. No index: every measured filter on category is combined with
the tenant and time indexes (docs/performance.md).
"""

from django.db import migrations, models

ADD = """
ALTER TABLE logs_event ADD COLUMN category varchar(16) NOT NULL DEFAULT 'application'
    CONSTRAINT logs_event_category_valid CHECK (category IN ('application', 'access', 'admin'))
"""


class Migration(migrations.Migration):
    dependencies = [("logs", "0004_event_received_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(ADD, "ALTER TABLE logs_event DROP COLUMN IF EXISTS category")
            ],
            state_operations=[
                migrations.AddField(
                    model_name="event",
                    name="category",
                    field=models.CharField(
                        choices=[
                            ("application", "Application"),
                            ("access", "Access"),
                            ("admin", "Admin"),
                        ],
                        db_default="application",
                        max_length=16,
                    ),
                ),
            ],
        )
    ]
