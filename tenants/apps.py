from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals
        from .db import _on_post_migrate

        signals.connect()
        post_migrate.connect(_on_post_migrate, sender=self, dispatch_uid="tenants-grant-app-role")
