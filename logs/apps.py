from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LogsConfig(AppConfig):
    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .partitions import partitions_after_migrate

        post_migrate.connect(partitions_after_migrate, sender=self, dispatch_uid="logs-partitions")
