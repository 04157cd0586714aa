"""A tenant's retention (within the platform's bounds) and archive policy, via the API."""

import pytest

pytestmark = pytest.mark.django_db


def test_new_tenants_archive_before_delete_by_default(parties):
    created = parties.client("platform_admin").post(
        "/api/v1/tenants", {"id": "acme", "name": "Acme"}, format="json"
    )
    assert created.status_code == 201
    assert (created.json()["retention_days"], created.json()["archive_before_delete"]) == (90, True)


def test_tenant_admin_sets_retention_and_archive_policy(parties):
    response = parties.client("a_admin").patch(
        "/api/v1/tenants/tenant-a",
        {"retention_days": 30, "archive_before_delete": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    parties.tenant_a.refresh_from_db()
    assert (parties.tenant_a.retention_days, parties.tenant_a.archive_before_delete) == (30, False)


@pytest.mark.parametrize("party", ["a_auditor", "a_user", "b_admin"])
def test_others_cannot_change_the_policy(parties, party):
    response = parties.client(party).patch(
        "/api/v1/tenants/tenant-a", {"archive_before_delete": False}, format="json"
    )
    assert response.status_code in (403, 404)
    parties.tenant_a.refresh_from_db()
    assert parties.tenant_a.archive_before_delete is True


@pytest.mark.parametrize("days", [0, 6, 366, -1])
def test_retention_outside_the_platform_bounds_is_400_naming_them(parties, settings, days):
    settings.RETENTION_MIN_DAYS, settings.RETENTION_MAX_DAYS = 7, 365
    response = parties.client("a_admin").patch(
        "/api/v1/tenants/tenant-a", {"retention_days": days}, format="json"
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "retention_days"
    assert "between 7 and 365" in error["message"]
    created = parties.client("platform_admin").post(
        "/api/v1/tenants", {"id": "acme", "name": "A", "retention_days": days}, format="json"
    )
    assert created.status_code == 400
    assert created.json()["errors"][0]["field"] == "retention_days"


def test_the_bounds_themselves_are_accepted(parties, settings):
    settings.RETENTION_MIN_DAYS, settings.RETENTION_MAX_DAYS = 7, 365
    client = parties.client("a_admin")
    for days in (7, 365):
        response = client.patch("/api/v1/tenants/tenant-a", {"retention_days": days}, format="json")
        assert response.status_code == 200


def test_the_admin_form_refuses_a_retention_outside_the_bounds(admin_client, parties, settings):
    from tenants.models import Tenant

    settings.RETENTION_MIN_DAYS, settings.RETENTION_MAX_DAYS = 7, 365
    data = {
        "id": "acme",
        "name": "Acme",
        "retention_days": "400",
        "archive_before_delete": "on",
        "is_active": "on",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post("/admin/tenants/tenant/add/", data)
    assert response.status_code == 200  # the form again, with the error
    assert "between 7 and 365" in response.content.decode()
    assert not Tenant.objects.filter(id="acme").exists()
