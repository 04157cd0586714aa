"""Root URLs: health probes, the versioned API, its schema and docs, the admin,
the login, and the dashboard at the site root."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from archival.api.cleanup_views import CleanupView

from . import health, problems

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script from ?script=, so the page's
    # CSP needs no inline script (auditlog_project/middleware.py).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("tenants.api.urls")),
    path("api/v1/", include("masking.api.urls")),
    path("api/v1/logs/cleanup", CleanupView.as_view(), name="logs-cleanup"),
    path("api/v1/", include("logs.api.urls")),
    path("api/v1/", include("pipeline.api.urls")),
    path("api/v1/", include("encryption.api.urls")),
    path("api/v1/", include("jobs.api.urls")),
    path("api/v1/", include("archival.api.urls")),
    path("api/v1/", include("destinations.api.urls")),
    path("api/v1/", include("alerts.api.urls")),
    path("api/v1/", include("integrity.api.urls")),
    path("admin/", admin.site.urls),
    # The browsable API's login and logout (DRF's pages; the login throttle applies).
    path("api-auth/", include("rest_framework.urls")),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("dashboard.urls")),
    # Anything else under /api/ is a problem+json 404, whatever DEBUG says.
    re_path(r"^api/", problems.not_found),
]

handler400 = problems.bad_request
handler403 = problems.permission_denied
handler404 = problems.not_found
handler500 = problems.server_error
