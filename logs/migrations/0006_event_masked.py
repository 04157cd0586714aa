"""The `masked` column: the JSON paths masked at ingest (masking.engine).

Hand-written like the table itself (SeparateDatabaseAndState): one ALTER on
the partitioned parent reaches every partition; a constant default is stored
in the catalog, so existing rows are not rewritten and read as `[]`.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("logs", "0005_event_category")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE logs_event ADD COLUMN masked jsonb NOT NULL DEFAULT '[]'::jsonb",
                    "ALTER TABLE logs_event DROP COLUMN masked",
                )
            ],
            state_operations=[
                migrations.AddField(
                    model_name="event",
                    name="masked",
                    field=models.JSONField(default=list, editable=False),
                )
            ],
        )
    ]
