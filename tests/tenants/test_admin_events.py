"""Every change to a tenant is an `admin` event in that tenant's own log: members
and roles, tenant settings and retention, users' deactivation and password
changes; made through the API, the Django admin or a management command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import User
from tenants.models import Membership
from tests.fixtures import PASSWORD, bearer_client

pytestmark = pytest.mark.django_db

MEMBERS = "/api/v1/tenants/tenant-a/members"


def admin_events(tenant_id: str = "tenant-a") -> list[dict]:
    """The tenant's admin events, oldest first, read through the API (before and
    after are encrypted at rest) by a platform administrator."""
    root = User.objects.get(username="root")
    query = {"tenant_id": tenant_id, "category": "admin", "ordering": "timestamp"}
    response = bearer_client(root).get("/api/v1/logs", {**query, "page_size": 1000})
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def change(event: dict) -> tuple:
    return (event["action"], event["resource_id"], event["before"], event["after"])


def test_member_changes_through_the_api(parties):
    client = parties.client("a_admin")
    for role, status in (("auditor", 201), ("auditor", 200), ("user", 200)):
        response = client.post(MEMBERS, {"username": "oscar", "role": role}, format="json")
        assert response.status_code == status
    assert client.delete(MEMBERS + "/oscar").status_code == 204
    events = admin_events()
    assert [change(e) for e in events] == [
        ("MEMBER_ADD", "oscar", None, {"role": "auditor"}),
        ("MEMBER_ROLE_CHANGE", "oscar", {"role": "auditor"}, {"role": "user"}),
        ("MEMBER_REMOVE", "oscar", {"role": "user"}, None),
    ]  # the same role again changes nothing and records nothing
    assert {e["user_id"] for e in events} == {"alice"}
    assert {e["metadata"]["via"] for e in events} == {"api"}
    assert admin_events("tenant-b") == []


def test_a_refused_change_records_nothing(parties):
    response = parties.client("a_admin").delete(MEMBERS + "/alice")  # the last admin
    assert response.status_code == 409
    assert admin_events() == []


def test_tenant_settings_and_retention_through_the_api(parties):
    response = parties.client("a_admin").patch(
        "/api/v1/tenants/tenant-a", {"retention_days": 30, "name": "Tenant A"}, format="json"
    )
    assert response.status_code == 200
    (event,) = admin_events()
    assert change(event) == (
        "TENANT_UPDATE",
        "tenant-a",
        {"retention_days": 90},
        {"retention_days": 30},
    )
    created = parties.client("platform_admin").post(
        "/api/v1/tenants", {"id": "tenant-c", "name": "C"}, format="json"
    )
    assert created.status_code == 201
    (event,) = admin_events("tenant-c")
    assert event["action"] == "TENANT_CREATE"
    assert event["after"] == {
        "name": "C",
        "retention_days": 90,
        "archive_before_delete": True,
        "is_active": True,
    }
    assert event["user_id"] == "root"


@pytest.fixture
def admin_site(client, parties):
    client.force_login(parties.platform_admin)
    return client


def test_membership_changes_through_the_django_admin(admin_site, parties):
    response = admin_site.post(
        "/admin/tenants/membership/add/",
        {"tenant": "tenant-a", "user": parties.outsider.pk, "role": "auditor"},
    )
    assert response.status_code == 302
    membership = Membership.objects.get(tenant_id="tenant-a", user=parties.outsider)
    response = admin_site.post(
        f"/admin/tenants/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    events = admin_events()
    assert [change(e) for e in events] == [
        ("MEMBER_ADD", "oscar", None, {"role": "auditor"}),
        ("MEMBER_REMOVE", "oscar", {"role": "auditor"}, None),
    ]
    assert {(e["user_id"], e["metadata"]["via"]) for e in events} == {("root", "admin")}


def test_tenant_retention_through_the_django_admin(admin_site, parties):
    data = {
        "name": "Tenant A",
        "retention_days": "45",
        "archive_before_delete": "on",
        "is_active": "on",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    response = admin_site.post("/admin/tenants/tenant/tenant-a/change/", data)
    assert response.status_code == 302
    (event,) = admin_events()
    assert change(event) == (
        "TENANT_UPDATE",
        "tenant-a",
        {"retention_days": 90},
        {"retention_days": 45},
    )
    assert event["metadata"]["via"] == "admin"


def test_deactivating_a_user_in_the_admin_is_recorded_in_each_of_its_tenants(admin_site, parties):
    user = parties.a_auditor
    data = {
        "username": user.username,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "00:00:00",
    }  # is_active left out: unticked
    response = admin_site.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content[:500]
    (event,) = admin_events()
    assert change(event) == ("USER_DEACTIVATE", "arthur", {"is_active": True}, {"is_active": False})
    assert admin_events("tenant-b") == []


def test_a_password_change_by_command_is_recorded_without_the_password(parties, monkeypatch):
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "another-long-passphrase-42")
    call_command("changepassword", "bianca", stdout=StringIO())
    (event,) = admin_events("tenant-b")
    assert change(event) == ("USER_PASSWORD_CHANGE", "bianca", None, {"changed": ["password"]})
    assert (event["user_id"], event["metadata"]["via"]) == ("system", "command")
    assert "another-long" not in str(event) and PASSWORD not in str(event)
    assert admin_events("tenant-a") == []


def test_the_demo_command_records_the_tenant_it_creates(parties):
    call_command("ensure_demo", stdout=StringIO())
    (event,) = admin_events("demo")
    assert (event["action"], event["user_id"], event["metadata"]["via"]) == (
        "TENANT_CREATE",
        "system",
        "command",
    )
