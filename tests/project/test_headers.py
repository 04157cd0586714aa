"""What every answer shows: no debug page, no internals, no caching, a CSP.

Through Django here; tests/project/test_topology.py checks the same through
the real nginx and gunicorn that `make run` starts.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"
INTERNALS = ("Traceback", "DATABASES", "SECRET", "REDIS_URL", "urlpatterns", "Django tried")


def assert_bare_problem(response, status: int) -> None:
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = response.content.decode()
    assert not any(word in body for word in INTERNALS), body[:500]
    assert len(body) < 400


def test_local_settings_keep_debug_off_unless_asked(tmp_path):
    def debug(**env: str) -> str:
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_"))}
        code = "from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)"
        return (
            subprocess.run(
                [sys.executable, "manage.py", "shell", "-c", code],
                cwd=ROOT,
                env={**clean, "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.local", **env},
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )

    assert debug(RUN_DIR=str(tmp_path)) == "False ['127.0.0.1', 'localhost', '[::1]']"
    assert debug(RUN_DIR=str(tmp_path), DJANGO_DEBUG="true").startswith("True")
    hosts = debug(RUN_DIR=str(tmp_path), DJANGO_ALLOWED_HOSTS="audit.example.com")
    assert hosts == "False ['audit.example.com']"


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/healthz", "/admin/", "/nowhere"])
def test_a_foreign_host_gets_a_bare_problem(client, path):
    assert_bare_problem(client.get(path, HTTP_HOST="evil.example.com"), 400)


@pytest.mark.parametrize("path", ["/nowhere", "/api/nowhere", "/static/nothing.js"])
def test_unknown_paths_never_show_the_url_map(client, path):
    assert_bare_problem(client.get(path), 404)


def test_token_responses_are_not_stored(client, parties):
    response = client.post(
        "/api/v1/auth/token",
        {"username": parties.a_admin.username, "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/logs?tenant_id=tenant-a",
        "/api/v1/logs/export?tenant_id=tenant-a&format=ndjson",
        "/api/v1/logs/stats?tenant_id=tenant-a",
        "/api/v1/auth/me",
        "/api/v1/logs/nowhere",
    ],
)
def test_event_data_and_errors_are_not_stored(parties, path):
    response = parties.client("a_admin").get(path)
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.parametrize("path", ["/api/docs/", "/admin/login/"])
def test_the_html_pages_have_a_self_only_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_the_swagger_ui_loads_only_self_hosted_scripts(client):
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page  # no inline script: the CSP would block it
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, page
    assert all(src.startswith(("/static/", "/api/docs/")) for src in sources), sources
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    assert '"validatorUrl": null' in script.content.decode()  # no call out to the internet
