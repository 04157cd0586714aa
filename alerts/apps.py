from django.apps import AppConfig
from django.db.models.signals import post_delete


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from destinations.models import Destination

        from .services import forget_destination

        post_delete.connect(
            forget_destination, sender=Destination, dispatch_uid="alerts-forget-destination"
        )
