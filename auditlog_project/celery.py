"""The Celery app: SQS through kombu, configured from Django settings (CELERY_*)."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.local")

app = Celery("auditlog")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _warn_if_autovacuum_off(**kwargs) -> None:
    from logs.planner import warn_if_autovacuum_off

    warn_if_autovacuum_off()
