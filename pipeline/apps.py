from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from archival.retention.hooks import ON_DAY_DELETED

        from .retention import record_day_deleted

        if record_day_deleted not in ON_DAY_DELETED:
            ON_DAY_DELETED.append(record_day_deleted)
