from django.apps import AppConfig


class LogsConfig(AppConfig):
    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .signals import events_committed_signal
        from .stream import on_events_committed

        events_committed_signal.connect(on_events_committed, dispatch_uid="logs-stream")
