"""The framework's own ceiling for single POSTs: a minimal Django view.

Served by gunicorn exactly like the API (same worker class, count and limits,
scripts/servers.py), it parses the same JSON body wrk sends and answers a small
201 JSON body: no middleware, no database, no authentication. Whatever the real
endpoint costs beyond this is the application's own work.

    gunicorn --chdir scripts/bench minimal_app:application
"""

from __future__ import annotations

import json
import uuid

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    SECRET_KEY=uuid.uuid4().hex,  # nothing here signs anything that outlives the run
    USE_TZ=True,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402


def create(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body)
    return JsonResponse({"id": str(uuid.uuid4()), "action": body.get("action")}, status=201)


urlpatterns = [path("api/v1/logs", create)]
application = get_wsgi_application()
