"""ASGI entry point: HTTP through Django, WebSockets through Channels.

A bad setting (a published key, a malformed value) stops the server with the
same one line `manage.py` prints, not a traceback.
"""

import os
import sys

from django.core.asgi import get_asgi_application

from auditlog_project.settings.env import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.local")
try:
    django_asgi_app = get_asgi_application()
except ConfigError as exc:
    print(f"configuration error: {exc}", file=sys.stderr, flush=True)
    # 3 is gunicorn's "worker failed to boot": the master stops, rather than
    # starting new workers that would fail the same way.
    sys.exit(3)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from logs.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
