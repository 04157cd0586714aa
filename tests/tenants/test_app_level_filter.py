"""The application's own tenant filter, proven alone: row-level security switched off.

Isolation has two layers: TenantScopedAPIView.get_queryset() filters every
scoped queryset by the caller's tenant, and PostgreSQL row-level security hides
other tenants' events whatever the query. Other tests see both at once, so a
missing filter is hidden by row-level security (and vice versa: see
tests/logs/test_storage.py for the policies alone). Here the test's transaction
turns row-level security off on the events and key tables, as their owner, and every
tenant-scoped read must still show the caller's tenant only.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from tenants.models import Membership
from tests.logs.conftest import event_body, seed

pytestmark = pytest.mark.usefixtures("as_table_owner")  # before the database is opened


def _count_all_events() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")
        cursor.execute(
            "SELECT (SELECT count(*) FROM logs_event), (SELECT count(*) FROM logs_event_key)"
        )
        return cursor.fetchone()


@pytest.fixture
def rls_off(parties):
    """Events in both tenants; row-level security off for the rest of the test."""
    a = seed(parties, "tenant-a", [event_body(tenant_id=..., user_id="ursula") for _ in range(2)])
    b = seed(parties, "tenant-b", [event_body(tenant_id=..., user_id="ursula") for _ in range(3)])
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE logs_event DISABLE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE logs_event_key DISABLE ROW LEVEL SECURITY")
    # The switch worked: with no tenant set, every tenant's events are visible.
    assert _count_all_events() == (5, 5)
    return {"a": a, "b": b}


def test_event_list_filters_by_tenant_without_row_level_security(parties, rls_off):
    for who in ("a_admin", "a_auditor", "a_user"):
        query = {"tenant_id": "tenant-a", "category": "application"}  # not the SEARCH events
        body = parties.client(who).get("/api/v1/logs", query).json()
        assert sorted(row["id"] for row in body["results"]) == sorted(rls_off["a"]), who
        assert {row["tenant_id"] for row in body["results"]} == {"tenant-a"}


def test_event_detail_of_another_tenant_is_404_without_row_level_security(parties, rls_off):
    client = parties.client("a_admin")
    assert client.get(f"/api/v1/logs/{rls_off['a'][0]}").status_code == 200
    for event_id in rls_off["b"]:
        response = client.get(f"/api/v1/logs/{event_id}", {"tenant_id": "tenant-a"})
        assert response.status_code == 404
    assert client.get(f"/api/v1/logs/{uuid.uuid4()}").status_code == 404


def test_export_filters_by_tenant_without_row_level_security(parties, rls_off):
    response = parties.client("a_admin").get(
        "/api/v1/logs/export", {"tenant_id": "tenant-a", "format": "ndjson"}
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    exported = [line for line in text.splitlines() if '"id"' in line]
    assert len(exported) == 2
    assert all(any(i in line for i in rls_off["a"]) for line in exported)
    assert not any(i in text for i in rls_off["b"])


def test_member_list_and_removal_filter_by_tenant(parties):
    # Memberships have no row-level security at all: the filter is their only layer.
    client = parties.client("a_admin")
    members = client.get("/api/v1/tenants/tenant-a/members").json()
    assert sorted(member["username"] for member in members) == ["alice", "arthur", "ursula"]
    before = sorted(Membership.objects.values_list("tenant_id", "user__username", "role"))
    assert client.delete("/api/v1/tenants/tenant-a/members/bob").status_code == 404
    assert sorted(Membership.objects.values_list("tenant_id", "user__username", "role")) == before
