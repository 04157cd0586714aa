"""Block roots (integrity.models.Block), under row-level security like the leaves."""

import django.db.models.deletion
from django.db import migrations, models

from tenants import db


class Migration(migrations.Migration):
    dependencies = [
        ("integrity", "0002_row_level_security"),
        ("tenants", "0004_archive_before_delete_db_default"),
    ]

    operations = [
        migrations.CreateModel(
            name="Block",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "tenant",
                        "block_index",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("block_index", models.BigIntegerField()),
                ("hash", models.BinaryField(max_length=32)),
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
                "db_table": "integrity_block",
            },
        ),
        migrations.RunSQL(
            db.tenant_isolation("integrity_block"),
            reverse_sql=[
                db.tenant_isolation_reverse("integrity_block"),
                "ALTER TABLE integrity_block NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY",
            ],
        ),
    ]
