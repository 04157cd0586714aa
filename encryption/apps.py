from django.apps import AppConfig


class EncryptionConfig(AppConfig):
    name = "encryption"
    verbose_name = "Encryption at rest"
    default_auto_field = "django.db.models.BigAutoField"
