"""Archived days, with row-level security as on the events table."""

import django.db.models.deletion
from django.db import migrations, models

from tenants import db


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ArchivedDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("running", "Running"),
                            ("verified", "Verified"),
                            ("failed", "Failed"),
                        ],
                        max_length=16,
                    ),
                ),
                ("row_count", models.BigIntegerField(default=0)),
                ("bytes", models.BigIntegerField(default=0)),
                ("first_timestamp", models.DateTimeField(null=True)),
                ("last_timestamp", models.DateTimeField(null=True)),
                ("parts", models.JSONField(default=list)),
                ("manifest_key", models.CharField(default="", max_length=512)),
                ("manifest_sha256", models.CharField(default="", max_length=64)),
                ("schema_version", models.PositiveSmallIntegerField(default=1)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("error", models.TextField(default="")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(null=True)),
                ("verified_at", models.DateTimeField(null=True)),
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
                "db_table": "archival_archived_day",
                "constraints": [
                    models.UniqueConstraint(fields=("tenant", "day"), name="archived_day_unique")
                ],
            },
        ),
        migrations.RunSQL(
            db.tenant_isolation("archival_archived_day"),
            reverse_sql=[db.tenant_isolation_reverse("archival_archived_day")],
        ),
    ]
