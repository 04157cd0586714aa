from django.apps import AppConfig


class BackupsConfig(AppConfig):
    """Backups of the whole database to the object store, and their restore."""

    name = "backups"
    default_auto_field = "django.db.models.BigAutoField"
