from django.apps import AppConfig


class MaskingConfig(AppConfig):
    name = "masking"
    default_auto_field = "django.db.models.BigAutoField"
