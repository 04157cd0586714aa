"""POST /api/v1/logs: create, idempotency, tenants and roles, after-commit hook."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.logs.conftest import at, event_body, stored

URL = "/api/v1/logs"
pytestmark = pytest.mark.django_db


def post(client, body, **extra):
    return client.post(URL, body, format="json", **extra)


def test_create_returns_the_stored_event_normalised(parties):
    # A day back (within every tenant's window), sent at +02:00, returned in UTC.
    sent = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    response = post(
        parties.client("a_user"),
        event_body(
            action="user_login",
            severity="warning",
            ip_address="::FFFF:10.0.0.1",
            timestamp=sent.astimezone(timezone(timedelta(hours=2))).isoformat(),
            metadata={"b": 1, "a": [True, None]},
            message="line one\n\tline two",
        ),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["action"] == "USER_LOGIN"
    assert body["severity"] == "WARNING"
    assert body["ip_address"] == "::ffff:10.0.0.1"
    assert body["timestamp"] == f"{sent:%Y-%m-%dT%H:%M:%S}Z"
    assert body["metadata"] == {"a": [True, None], "b": 1}
    assert body["received_at"].endswith("Z")
    uuid.UUID(body["id"])
    assert set(body) == {
        "id",
        "tenant_id",
        "timestamp",
        "received_at",
        "user_id",
        "session_id",
        "action",
        "resource_type",
        "resource_id",
        "severity",
        "ip_address",
        "user_agent",
        "message",
        "before",
        "after",
        "metadata",
        "request_id",
        "category",
        "masked",
    }
    assert body["category"] == "application"


def test_defaults_severity_info_and_timestamp_now(parties):
    body = post(parties.client("a_admin"), event_body()).json()
    assert body["severity"] == "INFO"
    assert body["timestamp"] <= body["received_at"]


def test_same_id_same_content_is_200_with_the_stored_event(parties):
    client = parties.client("a_admin")
    payload = event_body(id=str(uuid.uuid4()), metadata={"x": 1})
    first = post(client, payload)
    again = post(client, {**payload, "action": "LOGIN"})  # same after normalisation
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert [str(row["id"]) for row in stored()] == [payload["id"]]


@pytest.mark.parametrize(
    "spelling",
    [
        lambda when: when.isoformat(),  # +00:00, microseconds
        lambda when: when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        lambda when: when.astimezone(timezone(timedelta(hours=-5, minutes=-30))).isoformat(),
    ],
    ids=["offset", "zulu", "another-offset"],
)
def test_a_retry_repeating_its_explicit_timestamp_is_200(parties, spelling):
    # A client that names the timestamp sends the same one when it retries: the
    # retry is the same event (200 with the stored event), never a conflict.
    client = parties.client("a_admin")
    when = datetime.now(UTC) - timedelta(minutes=3, microseconds=123457)
    payload = event_body(id=str(uuid.uuid4()), timestamp=when.isoformat())
    first = post(client, payload)
    again = post(client, {**payload, "timestamp": spelling(when)})
    assert (first.status_code, again.status_code) == (201, 200), again.json()
    assert again.json() == first.json()
    assert [str(row["id"]) for row in stored()] == [payload["id"]]


def test_same_id_other_content_is_409_and_stores_nothing_more(parties):
    client = parties.client("a_admin")
    event_id = str(uuid.uuid4())
    assert post(client, event_body(id=event_id, timestamp=at(3))).status_code == 201
    response = post(client, event_body(id=event_id, timestamp=at(3), action="LOGOUT"))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    other_time = post(client, event_body(id=event_id, timestamp=at(1)))
    assert other_time.status_code == 409
    assert [(str(r["id"]), r["action"]) for r in stored()] == [(event_id, "LOGIN")]


def test_same_id_in_another_tenant_is_another_event(parties):
    event_id = str(uuid.uuid4())
    a = post(parties.client("a_admin"), event_body(id=event_id))
    b = post(parties.client("b_admin"), event_body(id=event_id, tenant_id="tenant-b"))
    assert (a.status_code, b.status_code) == (201, 201)


def test_tenant_may_be_omitted_by_a_member_of_one_tenant(parties):
    response = post(parties.client("a_user"), event_body(tenant_id=...))
    assert response.status_code == 201
    assert response.json()["tenant_id"] == "tenant-a"


def test_platform_admin_must_name_the_tenant(parties):
    assert post(parties.client("platform_admin"), event_body(tenant_id=...)).status_code == 400
    assert post(parties.client("platform_admin"), event_body()).status_code == 201


def test_body_and_header_naming_different_tenants_is_400(parties):
    response = post(parties.client("a_admin"), event_body(), HTTP_X_TENANT_ID="tenant-b")
    assert response.status_code == 400
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


@pytest.mark.parametrize("target", ["tenant-b", "no-such-tenant"])
def test_writing_to_another_tenant_is_refused_identically(parties, target):
    response = post(parties.client("a_admin"), event_body(tenant_id=target))
    assert response.status_code == 403
    assert response.json()["detail"] == "Tenant not found or not accessible."
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored


def test_auditor_cannot_create(parties):
    assert post(parties.client("a_auditor"), event_body()).status_code == 403
    assert stored("tenant-a") == [] and stored("tenant-b") == []


@pytest.mark.parametrize("who", [None, "outsider"])
def test_anonymous_and_outsiders_cannot_create(parties, who):
    assert post(parties.client(who), event_body()).status_code in (401, 403)
    assert stored("tenant-a") == [] and stored("tenant-b") == []  # nothing stored
