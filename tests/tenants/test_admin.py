"""The Django admin keeps the services' rules: a tenant keeps its last admin,
and a tenant is never deleted (the refusal names the offboarding path).

Through Django's test client, logged into the admin as a platform administrator.
"""

import pytest
from django.contrib.messages import get_messages

from tenants.models import Membership, Tenant

pytestmark = pytest.mark.django_db

TENANT_A = "/admin/tenants/tenant/tenant-a/change/"


@pytest.fixture
def admin_client(client, parties):
    client.force_login(parties.platform_admin)
    return client


def role(username: str, tenant: str = "tenant-a") -> str | None:
    row = Membership.objects.filter(tenant_id=tenant, user__username=username).first()
    return row.role if row else None


def messages_of(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def tenant_form(parties, changes: dict[str, dict], extra: list[dict] = ()) -> dict:
    """The tenant-a change form as posted: its members with `changes` by username."""
    rows = list(Membership.objects.filter(tenant_id="tenant-a").select_related("user"))
    data = {
        "name": "Tenant A",
        "retention_days": "90",
        "is_active": "on",
        "memberships-TOTAL_FORMS": str(len(rows) + len(extra)),
        "memberships-INITIAL_FORMS": str(len(rows)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        fields = {"id": row.pk, "tenant": "tenant-a", "user": row.user_id, "role": row.role}
        fields.update(changes.get(row.user.username, {}))
        data.update({f"memberships-{i}-{k}": v for k, v in fields.items()})
    for j, fields in enumerate(extra, start=len(rows)):
        data.update(
            {f"memberships-{j}-{k}": v for k, v in {"tenant": "tenant-a", **fields}.items()}
        )
    return data


def test_demoting_the_last_admin_in_the_tenant_page_is_a_form_error(admin_client, parties):
    response = admin_client.post(TENANT_A, tenant_form(parties, {"alice": {"role": "user"}}))
    assert response.status_code == 200
    assert "must keep an admin" in str(
        response.context["inline_admin_formsets"][0].formset.non_form_errors()
    )
    assert role("alice") == "admin"


def test_removing_the_last_admin_in_the_tenant_page_is_a_form_error(admin_client, parties):
    response = admin_client.post(TENANT_A, tenant_form(parties, {"alice": {"DELETE": "on"}}))
    assert response.status_code == 200
    assert "must keep an admin" in response.content.decode()
    assert role("alice") == "admin"


def test_handing_the_admin_role_over_in_one_save_is_allowed(admin_client, parties):
    changes = {"alice": {"DELETE": "on"}, "arthur": {"role": "admin"}}
    response = admin_client.post(TENANT_A, tenant_form(parties, changes))
    assert response.status_code == 302
    assert (role("alice"), role("arthur")) == (None, "admin")


def test_moving_a_row_to_another_user_removes_the_first(admin_client, parties):
    response = admin_client.post(
        TENANT_A, tenant_form(parties, {"alice": {"user": parties.b_user.pk}})
    )
    assert response.status_code == 302
    assert (role("alice"), role("bob")) == (None, "admin")


def test_adding_a_member_in_the_tenant_page_goes_through(admin_client, parties):
    extra = [{"user": parties.b_user.pk, "role": "auditor"}]
    response = admin_client.post(TENANT_A, tenant_form(parties, {}, extra))
    assert response.status_code == 302
    assert role("bob") == "auditor"
    assert role("bob", "tenant-b") == "user"


def test_demoting_the_last_admin_in_the_membership_page_is_a_form_error(admin_client, parties):
    alice = Membership.objects.get(tenant_id="tenant-a", user=parties.a_admin)
    response = admin_client.post(
        f"/admin/tenants/membership/{alice.pk}/change/", {"role": "auditor"}
    )
    assert response.status_code == 200
    assert "must keep an admin" in str(response.context["adminform"].form.non_field_errors())
    assert role("alice") == "admin"
    arthur = Membership.objects.get(tenant_id="tenant-a", user=parties.a_auditor)
    promoted = admin_client.post(
        f"/admin/tenants/membership/{arthur.pk}/change/", {"role": "admin"}
    )
    assert promoted.status_code == 302
    assert role("arthur") == "admin"


def test_deleting_the_last_admin_membership_is_refused_with_a_message(admin_client, parties):
    alice = Membership.objects.get(tenant_id="tenant-a", user=parties.a_admin)
    path = f"/admin/tenants/membership/{alice.pk}/delete/"
    response = admin_client.post(path, {"post": "yes"})
    assert response.status_code == 302
    assert "must keep an admin" in messages_of(response)
    assert role("alice") == "admin"
    changelist = admin_client.get("/admin/tenants/membership/")
    assert "delete_selected" not in changelist.content.decode()


def test_deleting_a_user_who_is_the_last_admin_is_refused(admin_client, parties):
    path = f"/admin/accounts/user/{parties.a_admin.pk}/delete/"
    response = admin_client.post(path, {"post": "yes"})
    assert response.status_code == 302
    assert "must keep an admin" in messages_of(response)
    assert role("alice") == "admin"
    bulk = admin_client.post(
        "/admin/accounts/user/",
        {"action": "delete_selected", "_selected_action": [parties.a_admin.pk], "post": "yes"},
    )
    assert bulk.status_code == 302
    assert "must keep an admin" in messages_of(bulk)
    assert role("alice") == "admin"
    # Someone who is nobody's last admin can be deleted.
    gone = admin_client.post(f"/admin/accounts/user/{parties.a_user.pk}/delete/", {"post": "yes"})
    assert gone.status_code == 302
    assert role("ursula") is None


def test_deleting_a_tenant_with_events_is_a_refusal_naming_the_offboarding_path(
    admin_client, parties
):
    event = {
        "tenant_id": "tenant-a",
        "user_id": "alice",
        "action": "CREATE",
        "resource_type": "doc",
    }
    assert parties.client("a_admin").post("/api/v1/logs", event, format="json").status_code == 201
    for method in (admin_client.get, admin_client.post):
        response = method("/admin/tenants/tenant/tenant-a/delete/", {"post": "yes"})
        assert response.status_code == 302
        assert response["Location"] == TENANT_A
        text = messages_of(response)
        assert "deactivate it" in text and "retention" in text
    assert Tenant.objects.filter(pk="tenant-a").exists()
    changelist = admin_client.get("/admin/tenants/tenant/")
    assert "delete_selected" not in changelist.content.decode()
    assert "/delete/" not in admin_client.get(TENANT_A).content.decode()


def test_deactivating_a_tenant_in_the_admin_is_the_offboarding(admin_client, parties):
    data = tenant_form(parties, {})
    del data["is_active"]
    assert admin_client.post(TENANT_A, data).status_code == 302
    assert not Tenant.objects.get(pk="tenant-a").is_active
    assert parties.client("a_admin").get("/api/v1/tenants/tenant-a").status_code == 404


def test_the_admin_site_is_for_platform_administrators_only(client, parties):
    client.force_login(parties.a_admin)  # a tenant admin is no platform admin
    assert client.get(TENANT_A).status_code == 302  # to the login page


def test_a_new_tenant_with_its_admin_in_one_save(admin_client, parties):
    data = {
        "id": "acme",
        "name": "Acme",
        "retention_days": "30",
        "is_active": "on",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": parties.b_user.pk,
        "memberships-0-role": "admin",
    }
    response = admin_client.post("/admin/tenants/tenant/add/", data)
    assert response.status_code == 302
    assert role("bob", "acme") == "admin"


def test_adding_a_membership_in_its_own_page(admin_client, parties):
    response = admin_client.post(
        "/admin/tenants/membership/add/",
        {"tenant": "tenant-b", "user": parties.a_admin.pk, "role": "auditor"},
    )
    assert response.status_code == 302
    assert role("alice", "tenant-b") == "auditor"


def test_an_inactive_user_cannot_be_made_a_member(admin_client, parties):
    parties.outsider.is_active = False
    parties.outsider.save()
    extra = [{"user": parties.outsider.pk, "role": "user"}]
    response = admin_client.post(TENANT_A, tenant_form(parties, {}, extra))
    assert response.status_code == 302
    assert response["Location"] == TENANT_A
    assert "Only active users" in messages_of(response)
    assert role("oscar") is None
