"""GET/PUT /api/v1/tenants/{id}/masking-policy and its dry run: roles, tenants, validation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from masking.models import MaskingPolicy
from tenants.models import Tenant
from tests.logs.conftest import event_body

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/{}/masking-policy"
DRY_RUN = URL + "/dry-run"
POLICY = {
    "key_names": ["employee_ref", "*_pin"],
    "value_patterns": [{"name": "badge", "pattern": r"BDG-[0-9]{5}"}],
    "allow_keys": ["csrf_token"],
    "mask_emails": True,
}


def test_a_policy_change_is_an_admin_event_of_the_tenant(parties):
    client = parties.client("a_admin")
    client.put(URL.format("tenant-a"), {"key_names": ["ref"]}, format="json")
    client.put(URL.format("tenant-a"), POLICY, format="json")
    events = parties.client("a_auditor").get("/api/v1/logs", {"category": "admin"}).json()
    changes = [e for e in events["results"] if e["action"] == "MASKING_POLICY_UPDATE"]
    assert [(e["user_id"], e["resource_type"]) for e in changes] == [
        ("alice", "masking_policy"),
        ("alice", "masking_policy"),
    ]
    assert changes[0]["before"]["key_names"] == ["ref"]
    assert changes[0]["after"]["value_patterns"] == POLICY["value_patterns"]


def test_a_tenant_without_a_policy_has_the_built_in_rules_only(parties):
    body = parties.client("a_admin").get(URL.format("tenant-a")).json()
    assert body["key_names"] == [] and body["value_patterns"] == [] and body["version"] == 0
    assert body["builtin"]["enabled"] is True
    assert "password" in body["builtin"]["key_names"]
    assert "[jwt]" in body["builtin"]["value_kinds"]


def test_the_admin_replaces_the_policy_and_reads_it_back(parties):
    client = parties.client("a_admin")
    saved = client.put(URL.format("tenant-a"), POLICY, format="json")
    assert saved.status_code == 200, saved.json()
    body = client.get(URL.format("tenant-a")).json()
    assert {k: body[k] for k in POLICY} == POLICY
    assert body["version"] == 1 and body["updated_by"] == "alice"
    client.put(URL.format("tenant-a"), {"mask_emails": False}, format="json")
    body = client.get(URL.format("tenant-a")).json()
    assert body["version"] == 2 and body["key_names"] == [] and body["mask_emails"] is False


@pytest.mark.parametrize(
    ("who", "get", "put", "dry_run"),
    [
        ("platform_admin", 200, 200, 200),
        ("a_admin", 200, 200, 200),
        ("a_auditor", 200, 403, 403),
        ("a_user", 403, 403, 403),
        ("b_admin", 404, 404, 404),
        ("outsider", 404, 404, 404),
        (None, 401, 401, 401),
    ],
)
def test_role_matrix_and_other_tenants(parties, who, get, put, dry_run):
    client = parties.client(who)
    assert client.get(URL.format("tenant-a")).status_code == get
    assert client.put(URL.format("tenant-a"), POLICY, format="json").status_code == put
    sample = {"event": event_body(metadata={"password": "x"})}
    assert client.post(DRY_RUN.format("tenant-a"), sample, format="json").status_code == dry_run
    if put != 200:
        assert not MaskingPolicy.objects.exists()
        assert Tenant.objects.get(pk="tenant-a").masking_version == 0


def test_a_missing_tenant_answers_like_another_tenants(parties):
    client = parties.client("b_admin")
    for tenant in ("tenant-a", "no-such-tenant"):
        assert client.get(URL.format(tenant)).status_code == 404
        assert client.put(URL.format(tenant), {}, format="json").status_code == 404


@pytest.mark.parametrize(
    ("policy", "field", "message"),
    [
        ({"value_patterns": [{"name": "x", "pattern": r"(a)\1"}]},
         "value_patterns[0].pattern", "Not a valid RE2 expression"),
        ({"value_patterns": [{"name": "ok", "pattern": "a"}, {"name": "y", "pattern": "x*"}]},
         "value_patterns[1].pattern", "Must not match the empty string"),
        ({"value_patterns": [{"name": "x", "pattern": "[a-z]{1000}[0-9]{1000}"}]},
         "value_patterns[0].pattern", "Too complex"),
        ({"value_patterns": [{"name": "Bad Name", "pattern": "a"}]},
         "value_patterns[0].name", "Must be a lowercase slug"),
        ({"value_patterns": [{"name": "a", "pattern": "a"}, {"name": "a", "pattern": "b"}]},
         "value_patterns", "Pattern names must be unique"),
        ({"value_patterns": [{"name": "a", "pattern": "a", "flags": "i"}]},
         "value_patterns[0].flags", "Unknown field"),
        ({"value_patterns": [{"name": f"p{i}", "pattern": "a"} for i in range(21)]},
         "value_patterns", "Ensure this field has no more than 20 elements"),
        ({"key_names": ["a*b"]}, "key_names[0]", "`*` may only start or end"),
        ({"key_names": ["-_-"]}, "key_names[0]", "Must name a key"),
        ({"allow_keys": ["x" * 101]}, "allow_keys[0]", "Ensure this field has no more than 100"),
        ({"mask_emails": "perhaps"}, "mask_emails", "Must be a valid boolean"),
        ({"key_name": ["typo"]}, "key_name", "Unknown field"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_naming_the_rule(parties, policy, field, message):
    response = parties.client("a_admin").put(URL.format("tenant-a"), policy, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["message"].startswith(message), errors
    assert not MaskingPolicy.objects.exists()


def test_dry_run_shows_the_sample_under_a_proposed_policy_and_stores_nothing(parties):
    client = parties.client("a_admin")
    sample = event_body(
        message="badge BDG-12345 by bob@example.com",
        metadata={"employee_ref": "E1", "password": "p", "csrf_token": "kept"},
    )
    response = client.post(
        DRY_RUN.format("tenant-a"), {"event": sample, "policy": POLICY}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["event"]["message"] == "badge [badge] by ***@example.com"
    assert body["event"]["metadata"] == {
        "employee_ref": "[redacted]",
        "password": "[redacted]",
        "csrf_token": "kept",
    }
    assert body["event"]["action"] == "LOGIN"
    assert sorted(body["masked"]) == ["message", "metadata.employee_ref", "metadata.password"]
    assert not MaskingPolicy.objects.exists()
    assert client.get("/api/v1/logs").json()["results"] == []


def test_dry_run_without_a_policy_uses_the_saved_one(parties):
    client = parties.client("a_admin")
    client.put(URL.format("tenant-a"), {"key_names": ["ref"]}, format="json")
    sample = {"event": event_body(metadata={"ref": "r", "other": "o"})}
    body = client.post(DRY_RUN.format("tenant-a"), sample, format="json").json()
    assert body["event"]["metadata"] == {"ref": "[redacted]", "other": "o"}


def test_dry_run_refuses_a_bad_sample_or_policy_naming_the_field(parties):
    client = parties.client("a_admin")
    bad_sample = client.post(
        DRY_RUN.format("tenant-a"), {"event": {"user_id": "u"}}, format="json"
    ).json()
    assert {e["field"] for e in bad_sample["errors"]} == {"event.action", "event.resource_type"}
    bad_policy = client.post(
        DRY_RUN.format("tenant-a"),
        {"event": event_body(), "policy": {"value_patterns": [{"name": "x", "pattern": "("}]}},
        format="json",
    ).json()
    assert [e["field"] for e in bad_policy["errors"]] == ["policy.value_patterns[0].pattern"]


def test_the_policy_row_is_read_once_per_answer(parties):
    """GET reads the row once; PUT answers with the row it saved (one read for
    `before`, one locked read by the save), never reading it again to answer."""
    client = parties.client("a_admin")
    answers = []

    def policy_reads(call) -> int:
        with CaptureQueriesContext(connection) as queries:
            answers.append(call())
        assert answers[-1].status_code == 200
        return sum(
            q["sql"].startswith("SELECT") and '"masking_maskingpolicy"' in q["sql"]
            for q in queries.captured_queries
        )

    assert policy_reads(lambda: client.get(URL.format("tenant-a"))) == 1
    assert policy_reads(lambda: client.put(URL.format("tenant-a"), POLICY, format="json")) == 2
    assert policy_reads(lambda: client.get(URL.format("tenant-a"))) == 1
    assert answers[1].json() == answers[2].json()  # the saved row, as a later read answers it
