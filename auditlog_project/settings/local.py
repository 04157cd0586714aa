"""Development settings: local services on 127.0.0.1, development secrets allowed."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-dev-secret-key-change-me-0123456789")
os.environ.setdefault("JWT_SIGNING_KEY", "insecure-dev-jwt-key-change-me-0123456789abcdef")
os.environ.setdefault("DATABASE_URL", "postgres://auditlog_app@127.0.0.1:5432/auditlog")
os.environ.setdefault("SQS_ENDPOINT_URL", "http://127.0.0.1:9324")
os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: E402,F403

WHITENOISE_USE_FINDERS = True
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
