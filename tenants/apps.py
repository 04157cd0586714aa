from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auditlog_project.access import ACCESS_CHANGED, ACCESS_CHANGING

        from . import signals
        from .access_cache import on_access_changed, on_access_changing
        from .db import _on_post_migrate

        signals.connect()
        ACCESS_CHANGED.connect(on_access_changed, dispatch_uid="tenants-access-cache")
        ACCESS_CHANGING.connect(on_access_changing, dispatch_uid="tenants-access-cache-local")
        post_migrate.connect(_on_post_migrate, sender=self, dispatch_uid="tenants-grant-app-role")
