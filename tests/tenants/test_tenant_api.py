import pytest

from tenants.models import Membership

pytestmark = pytest.mark.django_db


def test_create_tenant_defaults_and_conflict(parties):
    admin = parties.client("platform_admin")
    created = admin.post("/api/v1/tenants", {"id": "acme", "name": "Acme"}, format="json")
    assert created.status_code == 201
    assert created.json()["retention_days"] == 90
    assert created.json()["is_active"] is True
    again = admin.post("/api/v1/tenants", {"id": "acme", "name": "Other"}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "Upper", "name": "x"}, "id"),
        ({"id": "a", "name": "x"}, "id"),
        ({"id": "-lead", "name": "x"}, "id"),
        ({"id": "ok-id", "name": "x", "retention_days": 0}, "retention_days"),
        ({"id": "ok-id"}, "name"),
        ({"id": "ok-id", "name": "x", "colour": "red"}, "colour"),
    ],
)
def test_create_tenant_refuses_bad_input_naming_the_field(parties, body, field):
    response = parties.client("platform_admin").post("/api/v1/tenants", body, format="json")
    assert response.status_code == 400
    assert field in {error["field"] for error in response.json()["errors"]}


def test_list_tenants_shows_all(parties):
    ids = [t["id"] for t in parties.client("platform_admin").get("/api/v1/tenants").json()]
    assert ids == ["tenant-a", "tenant-b"]


def test_tenant_admin_patches_name_and_retention_but_not_active_flag(parties):
    client = parties.client("a_admin")
    response = client.patch(
        "/api/v1/tenants/tenant-a", {"name": "A2", "retention_days": 30}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["retention_days"]) == ("A2", 30)
    refused = client.patch("/api/v1/tenants/tenant-a", {"is_active": False}, format="json")
    assert refused.status_code == 403


def test_deactivated_tenant_disappears_for_members_and_can_be_reactivated(parties):
    root = parties.client("platform_admin")
    path = "/api/v1/tenants/tenant-a"
    assert root.patch(path, {"is_active": False}, format="json").status_code == 200
    assert parties.client("a_admin").get(path).status_code == 404
    assert parties.client("a_admin").get("/api/v1/auth/me").json()["memberships"] == []
    assert root.patch(path, {"is_active": True}, format="json").json()["is_active"] is True
    assert parties.client("a_admin").get(path).status_code == 200


def test_members_list_and_upsert(parties):
    client = parties.client("a_admin")
    members = client.get("/api/v1/tenants/tenant-a/members").json()
    assert members == [
        {"username": "alice", "role": "admin"},
        {"username": "arthur", "role": "auditor"},
        {"username": "ursula", "role": "user"},
    ]
    added = client.post(
        "/api/v1/tenants/tenant-a/members", {"username": "bob", "role": "user"}, format="json"
    )
    assert added.status_code == 201
    changed = client.post(
        "/api/v1/tenants/tenant-a/members", {"username": "bob", "role": "auditor"}, format="json"
    )
    assert changed.status_code == 200
    assert Membership.objects.get(tenant_id="tenant-a", user__username="bob").role == "auditor"
    # bob's role in his own tenant is untouched
    assert Membership.objects.get(tenant_id="tenant-b", user__username="bob").role == "user"


def test_upsert_unknown_user_or_role_is_400(parties):
    client = parties.client("a_admin")
    unknown = client.post(
        "/api/v1/tenants/tenant-a/members", {"username": "ghost", "role": "user"}, format="json"
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "username"
    bad_role = client.post(
        "/api/v1/tenants/tenant-a/members", {"username": "bob", "role": "owner"}, format="json"
    )
    assert bad_role.status_code == 400
    assert bad_role.json()["errors"][0]["field"] == "role"


def test_the_last_admin_can_be_neither_demoted_nor_removed(parties):
    client = parties.client("platform_admin")
    demote = client.post(
        "/api/v1/tenants/tenant-a/members", {"username": "alice", "role": "user"}, format="json"
    )
    assert demote.status_code == 409
    remove = client.delete("/api/v1/tenants/tenant-a/members/alice")
    assert remove.status_code == 409
    client.post(
        "/api/v1/tenants/tenant-a/members", {"username": "arthur", "role": "admin"}, format="json"
    )
    assert client.delete("/api/v1/tenants/tenant-a/members/alice").status_code == 204


def test_removing_a_non_member_is_404(parties):
    response = parties.client("a_admin").delete("/api/v1/tenants/tenant-a/members/bob")
    assert response.status_code == 404
