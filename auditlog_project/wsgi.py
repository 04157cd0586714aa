"""WSGI entry point (HTTP API under a WSGI server such as gunicorn).

A bad setting (a published key, a malformed value) stops the server with the
same one line `manage.py` prints, not a traceback.
"""

import os
import sys

from django.core.wsgi import get_wsgi_application

from auditlog_project.settings.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.local")
try:
    application = get_wsgi_application()
except ConfigError as exc:
    print(f"configuration error: {exc}", file=sys.stderr, flush=True)
    # 3 is gunicorn's "worker failed to boot": the master stops, rather than
    # starting new workers that would fail the same way.
    sys.exit(3)

from logs.planner import warn_if_autovacuum_off  # noqa: E402 - after Django is set up

warn_if_autovacuum_off()
