"""Alert rules name destinations; fired alerts are sent to them from an outbox
(alerts_delivery), under row-level security like the other alerts tables."""

import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from tenants import db


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
        ("destinations", "0002_row_level_security"),
        ("tenants", "0004_archive_before_delete_db_default"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="destinations",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.UUIDField(), blank=True, default=list, size=None
            ),
        ),
        migrations.CreateModel(
            name="AlertDelivery",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting to be sent (or for its next retry)"),
                            ("delivered", "Taken by the destination (a 2xx)"),
                            ("failed", "Given up after DESTINATIONS_MAX_ATTEMPTS failures"),
                        ],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("last_error", models.CharField(blank=True, default="", max_length=500)),
                ("delivered_at", models.DateTimeField(null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "alert",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="alerts.alert",
                    ),
                ),
                (
                    "destination",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="destinations.destination",
                    ),
                ),
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
                "db_table": "alerts_delivery",
                "indexes": [
                    models.Index(
                        condition=models.Q(("state", "pending")),
                        fields=["tenant", "next_attempt_at"],
                        name="alerts_delivery_due",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("alert", "destination"), name="alerts_delivery_once"
                    )
                ],
            },
        ),
        migrations.RunSQL(
            db.tenant_isolation("alerts_delivery"),
            reverse_sql=[db.tenant_isolation_reverse("alerts_delivery")],
        ),
    ]
