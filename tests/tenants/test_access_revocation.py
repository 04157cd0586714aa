"""A changed membership takes effect on the next request, with the same token.

The access token carries no tenant or role: tenants/scoping.py resolves both
from the memberships table on every request. These tests hold one token
across the change and show the very next request obeys it. (Password change
and deactivation: tests/accounts/test_refresh_tokens.py.)
"""

import pytest

from tenants import services
from tests.fixtures import bearer_client

pytestmark = pytest.mark.django_db
EVENT = {"tenant_id": "tenant-a", "user_id": "arthur", "action": "login", "resource_type": "s"}
MEMBER = "/api/v1/tenants/tenant-a/members"


def test_removing_a_membership_refuses_the_next_request(parties):
    held = bearer_client(parties.a_auditor)  # one token, before and after
    assert held.get("/api/v1/logs?tenant_id=tenant-a").status_code == 200
    assert parties.client("a_admin").delete(f"{MEMBER}/arthur").status_code == 204
    refused = held.get("/api/v1/logs?tenant_id=tenant-a")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Tenant not found or not accessible."


def test_removal_from_one_tenant_leaves_the_other(parties):
    services.membership_upsert(tenant=parties.tenant_b, username="arthur", role="auditor")
    held = bearer_client(parties.a_auditor)
    assert parties.client("a_admin").delete(f"{MEMBER}/arthur").status_code == 204
    assert held.get("/api/v1/logs?tenant_id=tenant-a").status_code == 403
    assert held.get("/api/v1/logs?tenant_id=tenant-b").status_code == 200


def test_a_role_change_applies_to_the_next_request_both_ways(parties):
    held = bearer_client(parties.a_auditor)
    assert held.post("/api/v1/logs", EVENT, format="json").status_code == 403  # auditor
    admin = parties.client("a_admin")
    promoted = admin.post(MEMBER, {"username": "arthur", "role": "admin"}, format="json")
    assert promoted.status_code == 200
    assert held.post("/api/v1/logs", EVENT, format="json").status_code == 201
    demoted = admin.post(MEMBER, {"username": "arthur", "role": "auditor"}, format="json")
    assert demoted.status_code == 200
    assert held.post("/api/v1/logs", EVENT, format="json").status_code == 403


def test_a_member_demoted_to_user_reads_only_their_own_events_next(parties):
    writer = parties.client("a_admin")
    for user_id in ("alice", "arthur"):
        response = writer.post("/api/v1/logs", {**EVENT, "user_id": user_id}, format="json")
        assert response.status_code == 201
    held = bearer_client(parties.a_auditor)
    # The application's events only: each read also records the reader's access event.
    listing = "/api/v1/logs?tenant_id=tenant-a&category=application"
    assert len(held.get(listing).json()["results"]) == 2
    services.membership_upsert(tenant=parties.tenant_a, username="arthur", role="user")
    seen = held.get(listing).json()["results"]
    assert [event["user_id"] for event in seen] == ["arthur"]


def test_a_deactivated_tenant_refuses_its_members_next_request(parties):
    held = bearer_client(parties.a_auditor)
    services.tenant_update(tenant=parties.tenant_a, is_active=False)
    assert held.get("/api/v1/logs?tenant_id=tenant-a").status_code == 403
