import io

import pytest
from django.core.management import call_command

from accounts.models import User
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def run(*args, **env) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_ensure_demo_creates_the_demo_tenant_and_admin_once(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "demo-admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-demo-password")
    first = run("ensure_demo")
    assert "created" in first and "/api/v1/auth/token" in first
    assert Tenant.objects.filter(id="demo").exists()
    admin = User.objects.get(username="demo-admin")
    assert admin.is_superuser and admin.check_password("a-long-demo-password")
    second = run("ensure_demo")
    assert "present" in second
    assert User.objects.filter(username="demo-admin").count() == 1


def test_sqs_setup_creates_both_queues(sqs_queues):
    output = run("sqs_setup")
    assert output.count("queue ") == 2
    assert "-dlq" in output


def test_the_asgi_application_routes_http_and_websocket():
    from auditlog_project.asgi import application

    assert set(application.application_mapping) == {"http", "websocket"}
