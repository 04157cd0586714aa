"""The Celery app: SQS through kombu, configured from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.local")

app = Celery("auditlog")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
