"""Response headers that hold in every process: a content security policy on
every answer, and no caching of anything under /api/.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# The HTML pages (the Swagger UI at /api/docs/, the admin) load only what this
# server serves: the Swagger UI's scripts come from drf-spectacular-sidecar
# through the static files, and its start-up script from /api/docs/?script=
# (SpectacularSwaggerSplitView), so no inline script is needed. Inline styles
# are allowed: the Swagger UI page carries a <style> block and both UIs set
# style attributes. data: images are the icons embedded in their CSS.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# Everything else is data (JSON, CSV, scripts): nothing in it may load anything.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"


def security_headers(get_response: Callable[[HttpRequest], HttpResponse]):
    """CSP on every response; `Cache-Control: no-store` on every /api/ response.

    /api/ answers carry tokens or tenants' events (and the rest is cheap), so
    no browser or intermediary cache may keep any of them.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        html = response.get("Content-Type", "").startswith("text/html")
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY if html else DATA_POLICY)
        if request.path.startswith("/api/"):
            response["Cache-Control"] = "no-store"
        return response

    return middleware
