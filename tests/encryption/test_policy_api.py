"""GET|PUT /api/v1/tenants/{id}/encryption: roles, other tenants, validation, admin events."""

from __future__ import annotations

import pytest

from tests.encryption.helpers import SECRET, post, secret_event, stored_text

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/{}/encryption"
EVERY = ["user_agent", "message", "before", "after", "metadata"]


def put(parties, who: str, tenant: str = "tenant-a", fields=None):
    body = {"encrypted_fields": fields if fields is not None else EVERY}
    return parties.client(who).put(URL.format(tenant), body, format="json")


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("platform_admin", 200),
        ("a_admin", 200),
        ("a_auditor", 403),
        ("a_user", 403),
        ("b_admin", 404),
        ("outsider", 404),
        (None, 401),
    ],
)
def test_role_matrix_and_other_tenants(parties, who, status):
    read = parties.client(who).get(URL.format("tenant-a"))
    assert read.status_code == status, read.content
    assert put(parties, who).status_code == status
    if status != 200:
        assert read["Content-Type"] == "application/problem+json"
        # Nothing changed: tenant A still has the default policy.
        default = parties.client("a_admin").get(URL.format("tenant-a")).json()
        assert default["encrypted_fields"] == ["before", "after"]


def test_an_unknown_tenant_answers_like_a_hidden_one(parties):
    assert parties.client("a_admin").get(URL.format("no-such-tenant")).status_code == 404


def test_the_default_policy_and_key_versions_are_shown_without_key_material(parties):
    post(parties, secret_event())
    body = parties.client("a_admin").get(URL.format("tenant-a")).json()
    assert body["encrypted_fields"] == ["before", "after"]
    assert body["not_searchable"] == []
    assert [(k["version"], k["state"]) for k in body["keys"]] == [(1, "current")]
    assert set(body["keys"][0]) == {"version", "state", "created_at", "shredded_at"}


def test_a_new_policy_applies_to_new_events_and_is_recorded(parties):
    answer = put(parties, "a_admin")
    assert answer.status_code == 200, answer.content
    assert answer.json()["encrypted_fields"] == EVERY
    assert answer.json()["not_searchable"] == ["message", "metadata"]
    event = secret_event()
    post(parties, event)
    assert all(SECRET not in value for value in stored_text("tenant-a", event["id"]).values())

    listed = parties.client("a_auditor").get(
        "/api/v1/logs", {"tenant_id": "tenant-a", "category": "admin"}
    )
    [change] = [e for e in listed.json()["results"] if e["action"] == "ENCRYPTION_POLICY_UPDATE"]
    assert change["user_id"] == "alice"
    assert change["before"] == {"encrypted_fields": ["after", "before"]}
    assert change["after"] == {"encrypted_fields": EVERY}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"encrypted_fields": ["before"]}, "after are always encrypted"),
        ({"encrypted_fields": ["after", "before", "password"]}, "Cannot encrypt password"),
        ({"encrypted_fields": ["after", "before", "user_id"]}, "Cannot encrypt user_id"),
        ({"encrypted_fields": "before,after"}, ""),
        ({}, ""),
        ({"encrypted_fields": ["before", "after"], "extra": 1}, ""),
    ],
)
def test_bad_policies_are_refused_with_a_400_naming_the_problem(parties, body, message):
    answer = parties.client("a_admin").put(URL.format("tenant-a"), body, format="json")
    assert answer.status_code == 400
    problem = answer.json()
    assert answer["Content-Type"] == "application/problem+json"
    assert problem["errors"], problem
    assert message in str(problem["errors"])
    default = parties.client("a_admin").get(URL.format("tenant-a")).json()
    assert default["encrypted_fields"] == ["before", "after"]
