"""WSGI entry point (HTTP API under a WSGI server such as gunicorn)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.local")
application = get_wsgi_application()
