"""ASGI entry point: HTTP through Django, WebSockets through Channels.

A bad setting (a published key, a malformed value) stops the server with the
same one line `manage.py` prints, not a traceback.
"""

import logging
import os
import re
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


class RedactTokens(logging.Filter):
    """Blanks access tokens in the ASGI server's log lines.

    uvicorn logs every WebSocket handshake with its query string, even with the
    access log off, and at debug level the handshake's headers (the
    subprotocol form of the token) and each frame (the auth message). The
    stream refuses tokens in the URL (4400), but a client that sends one anyway
    must not get it written to a log either.
    """

    patterns = (
        (re.compile(r"([?&;](?:access_)?token=)[^&;\s\"']*", re.IGNORECASE), r"\1[redacted]"),
        (re.compile(r"(auditlog\.token\.)[^\s,]*"), r"\1[redacted]"),
        (re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-.]*"), "[redacted-jwt]"),
    )

    def _clean(self, value: object) -> object:
        if isinstance(value, int | float):
            return value
        text = str(value)
        for pattern, replacement in self.patterns:
            text = pattern.sub(replacement, text)
        return value if text == str(value) else text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(arg) for arg in record.args)
        return True


for _name in ("uvicorn.error", "uvicorn.access"):
    logging.getLogger(_name).addFilter(RedactTokens())

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
