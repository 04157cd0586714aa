from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LogsConfig(AppConfig):
    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog_project.access import ACCESS_CHANGED

        from .partitions import partitions_after_migrate
        from .stream import on_access_changed

        ACCESS_CHANGED.connect(on_access_changed, dispatch_uid="logs-stream-access-changed")

        post_migrate.connect(partitions_after_migrate, sender=self, dispatch_uid="logs-partitions")
