"""POST /api/v1/logs/bulk: all or nothing, duplicates, limits, one tenant per request."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.logs.conftest import event_body, stored

URL = "/api/v1/logs/bulk"
pytestmark = pytest.mark.django_db


def bulk(client, events, tenant_id="tenant-a", **extra):
    body = {"events": events}
    if tenant_id is not None:
        body["tenant_id"] = tenant_id
    return client.post(URL, body, format="json", **extra)


def item(**overrides):
    return event_body(tenant_id=..., **overrides)


def test_bulk_creates_every_event(parties):
    events = [item(id=str(uuid.uuid4()), user_id=f"u{i}") for i in range(5)]
    response = bulk(parties.client("a_admin"), events)
    assert response.status_code == 201
    assert response.json() == {"created": 5, "duplicates": 0, "ids": [e["id"] for e in events]}
    assert len(stored()) == 5


def test_generated_ids_are_returned_in_order(parties):
    response = bulk(parties.client("a_user"), [item(), item(action="LOGOUT")])
    ids = response.json()["ids"]
    actions = {row["id"]: row["action"] for row in stored()}
    assert [actions[uuid.UUID(i)] for i in ids] == ["LOGIN", "LOGOUT"]


def test_retried_batch_counts_duplicates(parties):
    client = parties.client("a_admin")
    events = [item(id=str(uuid.uuid4())) for _ in range(3)]
    bulk(client, events[:2])
    response = bulk(client, events + [events[0]])
    assert response.json()["created"] == 1
    assert response.json()["duplicates"] == 3
    assert sorted(str(row["id"]) for row in stored()) == sorted(e["id"] for e in events)


def test_a_retried_batch_repeating_explicit_timestamps_is_all_duplicates(parties):
    client = parties.client("a_admin")
    when = datetime.now(UTC) - timedelta(hours=2, microseconds=654321)
    events = [
        item(id=str(uuid.uuid4()), timestamp=(when + timedelta(seconds=i)).isoformat())
        for i in range(3)
    ]
    assert bulk(client, events).status_code == 201
    retry = bulk(client, events)
    assert retry.status_code == 201, retry.json()
    assert retry.json() == {"created": 0, "duplicates": 3, "ids": [e["id"] for e in events]}
    assert len(stored()) == 3


def test_one_invalid_item_refuses_the_batch_and_lists_every_bad_item(parties):
    events = [item(), item(ip_address="999.1.1.1"), item(), item(action="", severity="LOUD")]
    response = bulk(parties.client("a_admin"), events)
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"events[1].ip_address", "events[3].action", "events[3].severity"}
    assert stored("tenant-a") == [] and stored("tenant-b") == []


def test_a_conflicting_item_refuses_the_batch(parties):
    client = parties.client("a_admin")
    taken = str(uuid.uuid4())
    bulk(client, [item(id=taken)])
    response = bulk(client, [item(), item(id=taken, action="DELETE")])
    assert response.status_code == 409
    assert [(str(r["id"]), r["action"]) for r in stored()] == [(taken, "LOGIN")]


def test_one_id_twice_with_different_content_is_400(parties):
    same = str(uuid.uuid4())
    response = bulk(parties.client("a_admin"), [item(id=same), item(id=same, action="X")])
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events[1].id"
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


def test_more_than_the_maximum_is_413(parties, settings):
    settings.BULK_MAX_EVENTS = 3
    response = bulk(parties.client("a_admin"), [item() for _ in range(4)])
    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


@pytest.mark.parametrize(
    "body",
    [
        {"tenant_id": "tenant-a", "events": []},
        {"tenant_id": "tenant-a", "events": {"a": 1}},
        {"tenant_id": "tenant-a"},
        {"tenant_id": "tenant-a", "events": [{}], "extra": 1},
        {"tenant_id": "tenant-a", "events": ["not an object"]},
        ["not", "an", "object"],
    ],
)
def test_malformed_bodies_are_400(parties, body):
    response = parties.client("a_admin").post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


def test_item_tenant_ids_may_repeat_the_default(parties):
    response = bulk(parties.client("a_admin"), [event_body(), item()])
    assert response.status_code == 201


@pytest.mark.parametrize("target", ["tenant-b", "no-such-tenant"])
def test_another_tenant_as_default_is_refused_identically(parties, target):
    response = bulk(parties.client("a_admin"), [item()], tenant_id=target)
    assert response.status_code == 403
    assert response.json()["detail"] == "Tenant not found or not accessible."
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


@pytest.mark.parametrize("target", ["tenant-b", "no-such-tenant"])
def test_another_tenant_in_one_item_is_refused_identically(parties, target):
    events = [item(), event_body(tenant_id=target)]
    response = bulk(parties.client("a_admin"), events)
    assert response.status_code == 403
    assert response.json()["detail"] == "Tenant not found or not accessible."
    assert stored("tenant-a") == [] and stored("tenant-b") == []


def test_two_accessible_tenants_in_one_request_is_400(parties):
    events = [item(), event_body(tenant_id="tenant-b")]
    response = bulk(parties.client("platform_admin"), events)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "tenant_id"
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


def test_an_item_tenant_where_the_role_cannot_create_is_403(parties):
    from tenants.models import Membership

    Membership.objects.create(user=parties.a_admin, tenant=parties.tenant_b, role="auditor")
    events = [item(), event_body(tenant_id="tenant-b")]
    assert bulk(parties.client("a_admin"), events).status_code == 403
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


def test_auditor_cannot_bulk_create(parties):
    assert bulk(parties.client("a_auditor"), [item()]).status_code == 403
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


def test_the_member_of_one_tenant_may_omit_it(parties):
    response = bulk(parties.client("b_user"), [item(user_id="bob")], tenant_id=None)
    assert response.status_code == 201
    assert len(stored("tenant-b")) == 1
