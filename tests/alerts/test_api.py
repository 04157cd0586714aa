"""/api/v1/alerts/rules and /api/v1/alerts: roles, tenants, validation, audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from alerts.models import Alert, AlertRule
from tenants.scoping import activate
from tests.alerts.conftest import create_rule, threshold_rule

pytestmark = pytest.mark.django_db

RULES = "/api/v1/alerts/rules"


def stored_alert(tenant: str, rule_id: str | None = None, minutes_ago: float = 0) -> Alert:
    """A fired alert row, as the evaluator writes it."""
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with transaction.atomic():
        activate(tenant)
        return Alert.objects.create(
            tenant_id=tenant,
            rule_id=rule_id,
            rule_name="brute force",
            condition_type="threshold",
            group_by="user_id",
            group_value="mallory",
            count=5,
            window_start=when - timedelta(seconds=40),
            window_end=when,
            trigger_event_id=uuid.uuid4(),
            event_ids=[str(uuid.uuid4())],
            batch_id=1,
        )


def admin_events(parties, action: str) -> list[dict]:
    answer = parties.client("a_auditor").get("/api/v1/logs", {"category": "admin"}).json()
    return [e for e in answer["results"] if e["action"] == action]


def test_an_admin_creates_reads_changes_and_deletes_a_rule(parties):
    admin = parties.client("a_admin")
    rule = create_rule(parties, "tenant-a", threshold_rule())
    assert rule["condition"] == {
        "type": "threshold",
        "count": 5,
        "window_seconds": 300,
        "group_by": "user_id",
    }
    assert (rule["filters"], rule["enabled"], rule["created_by"]) == (
        {"action": "LOGIN_FAILED"},
        True,
        "alice",
    )
    url = f"{RULES}/{rule['id']}?tenant_id=tenant-a"
    assert admin.get(url).json() == rule
    changed = admin.patch(url, {"enabled": False, "cooldown_seconds": 60}, format="json")
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["enabled"], changed.json()["cooldown_seconds"]) == (False, 60)
    assert changed.json()["condition"] == rule["condition"]  # untouched by a partial change
    listed = admin.get(RULES, {"tenant_id": "tenant-a"}).json()["results"]
    assert [r["id"] for r in listed] == [rule["id"]]
    assert admin.delete(url).status_code == 204
    assert admin.get(url).status_code == 404
    assert [e["user_id"] for e in admin_events(parties, "ALERT_RULE_CREATE")] == ["alice"]
    (update,) = admin_events(parties, "ALERT_RULE_UPDATE")
    assert (update["before"]["enabled"], update["after"]["enabled"]) == (True, False)
    assert admin_events(parties, "ALERT_RULE_DELETE")[0]["resource_id"] == rule["id"]


def test_a_deleted_rules_alerts_stay_listed(parties):
    rule = create_rule(parties, "tenant-a", threshold_rule())
    stored_alert("tenant-a", rule["id"])
    admin = parties.client("a_admin")
    admin.delete(f"{RULES}/{rule['id']}?tenant_id=tenant-a")
    (alert,) = admin.get("/api/v1/alerts", {"tenant_id": "tenant-a"}).json()["results"]
    assert (alert["rule_id"], alert["rule_name"]) == (None, "brute force")


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [
        ("platform_admin", 200, 201),
        ("a_admin", 200, 201),
        ("a_auditor", 200, 403),
        ("a_user", 403, 403),
        ("b_admin", 403, 403),  # another tenant named: not accessible
        ("outsider", 403, 403),
        (None, 401, 401),
    ],
)
def test_role_matrix(parties, who, read, write):
    rule = create_rule(parties, "tenant-a", threshold_rule())
    alert = stored_alert("tenant-a", rule["id"])
    client = parties.client(who)
    one = f"{RULES}/{rule['id']}?tenant_id=tenant-a"
    assert client.get(RULES, {"tenant_id": "tenant-a"}).status_code == read
    assert client.get(one).status_code == read
    assert client.get("/api/v1/alerts", {"tenant_id": "tenant-a"}).status_code == read
    created = client.post(f"{RULES}?tenant_id=tenant-a", threshold_rule(), format="json")
    assert created.status_code == write
    patch_status = 200 if write == 201 else write
    assert client.patch(one, {"name": "x"}, format="json").status_code == patch_status
    ack = client.post(f"/api/v1/alerts/{alert.id}/ack?tenant_id=tenant-a")
    assert ack.status_code == patch_status
    delete_status = 204 if write == 201 else write
    assert client.delete(one).status_code == delete_status


def test_other_tenants_rules_and_alerts_are_404_from_ones_own_tenant(parties):
    rule = create_rule(parties, "tenant-a", threshold_rule())
    alert = stored_alert("tenant-a", rule["id"])
    b_admin = parties.client("b_admin")
    one = f"{RULES}/{rule['id']}?tenant_id=tenant-b"
    assert b_admin.get(one).status_code == 404
    assert b_admin.patch(one, {"enabled": False}, format="json").status_code == 404
    assert b_admin.delete(one).status_code == 404
    assert b_admin.post(f"/api/v1/alerts/{alert.id}/ack?tenant_id=tenant-b").status_code == 404
    assert b_admin.get(RULES, {"tenant_id": "tenant-b"}).json()["results"] == []
    assert b_admin.get("/api/v1/alerts", {"tenant_id": "tenant-b"}).json()["results"] == []
    # The platform admin in tenant B does not see tenant A's either.
    root = parties.client("platform_admin")
    assert root.get(f"{RULES}/{rule['id']}?tenant_id=tenant-b").status_code == 404
    with transaction.atomic():
        activate("tenant-a")
        assert AlertRule.objects.get(id=rule["id"]).enabled is True
        assert Alert.objects.get(id=alert.id).acknowledged_at is None


def test_a_rule_is_created_in_the_tenant_the_body_names(parties):
    body = {**threshold_rule(), "tenant_id": "tenant-b"}
    answer = parties.client("platform_admin").post(RULES, body, format="json")
    assert answer.status_code == 201
    assert answer.json()["tenant_id"] == "tenant-b"
    mixed = parties.client("a_admin").post(f"{RULES}?tenant_id=tenant-a", body, format="json")
    assert mixed.status_code == 400


def test_not_a_uuid_is_404(parties):
    admin = parties.client("a_admin")
    assert admin.get(f"{RULES}/nope?tenant_id=tenant-a").status_code == 404
    assert admin.post("/api/v1/alerts/nope/ack?tenant_id=tenant-a").status_code == 404


def test_fired_alerts_are_listed_newest_first_and_acknowledged_once(parties):
    old = stored_alert("tenant-a", minutes_ago=10)
    new = stored_alert("tenant-a")
    stored_alert("tenant-b")
    auditor, admin = parties.client("a_auditor"), parties.client("a_admin")
    page = auditor.get("/api/v1/alerts", {"tenant_id": "tenant-a", "page_size": 1}).json()
    assert [a["id"] for a in page["results"]] == [str(new.id)]
    following = auditor.get(page["next"]).json()
    assert [a["id"] for a in following["results"]] == [str(old.id)]
    acked = admin.post(f"/api/v1/alerts/{old.id}/ack?tenant_id=tenant-a")
    assert acked.status_code == 200
    assert acked.json()["acknowledged_by"] == "alice"
    again = admin.post(f"/api/v1/alerts/{old.id}/ack?tenant_id=tenant-a")
    assert again.status_code == 409
    open_ones = auditor.get("/api/v1/alerts", {"tenant_id": "tenant-a", "acknowledged": "false"})
    assert [a["id"] for a in open_ones.json()["results"]] == [str(new.id)]
    (ack,) = admin_events(parties, "ALERT_ACK")
    assert (ack["resource_type"], ack["resource_id"]) == ("alert", str(old.id))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"acknowledged": "maybe"}, "acknowledged"),
        ({"cursor": "garbage"}, "cursor"),
        ({"severity": "ERROR"}, "severity"),
    ],
)
def test_bad_list_parameters_are_named(parties, params, field):
    answer = parties.client("a_admin").get("/api/v1/alerts", {"tenant_id": "tenant-a", **params})
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == [field]


THRESHOLD = threshold_rule()["condition"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"filters": {"colour": "red"}}, "filters.colour", "Unknown filter"),
        ({"filters": {"severity": "LOUD"}}, "filters.severity", "'LOUD' is not one of"),
        ({"filters": {"action": "not an action"}}, "filters.action", "'NOT AN ACTION' is not"),
        ({"filters": {"ip_address": "300.1.1.1"}}, "filters.ip_address", "Enter a valid"),
        ({"filters": {"user_id": 7}}, "filters.user_id", "Must be a string"),
        ({"filters": {"start_time": "2026-01-01T00:00:00Z"}}, "filters.start_time", "Unknown"),
        ({"filters": ["action"]}, "filters", "Must be an object"),
        ({"condition": {"type": "sometimes"}}, "condition.type", '"sometimes" is not a valid'),
        ({"condition": {"type": "threshold", "count": 5}}, "condition.window_seconds",
         "Required for a threshold"),
        ({"condition": {**THRESHOLD, "count": 0}}, "condition.count", "Ensure this value"),
        ({"condition": {**THRESHOLD, "window_seconds": 10**9}}, "condition.window_seconds",
         "Ensure this value"),
        ({"condition": {**THRESHOLD, "group_by": "session_id"}}, "condition.group_by",
         '"session_id" is not a valid'),
        ({"condition": {"type": "any", "count": 3}}, "condition.count", "Only for a threshold"),
        ({"cooldown_seconds": -1}, "cooldown_seconds", "Ensure this value"),
        ({"name": ""}, "name", "This field may not be blank"),
        ({"destination": [1]}, "destination", "Unknown field"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_naming_the_field(parties, change, field, message):
    admin = parties.client("a_admin")
    answer = admin.post(f"{RULES}?tenant_id=tenant-a", threshold_rule(**change), format="json")
    assert answer.status_code == 400, answer.json()
    errors = answer.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert errors[0]["message"].startswith(message), errors
    with transaction.atomic():
        activate("tenant-a")
        assert not AlertRule.objects.exists()


@pytest.mark.parametrize("body", [[], ["name"], "a rule"])
def test_a_body_that_is_not_an_object_is_refused(parties, body):
    answer = parties.client("a_admin").post(f"{RULES}?tenant_id=tenant-a", body, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"][0]["message"] == "Expected a JSON object."


def test_a_bad_change_is_refused_and_changes_nothing(parties):
    rule = create_rule(parties, "tenant-a", threshold_rule())
    url = f"{RULES}/{rule['id']}?tenant_id=tenant-a"
    admin = parties.client("a_admin")
    answer = admin.patch(url, {"filters": {"severity": "LOUD"}}, format="json")
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["filters.severity"]
    assert admin.get(url).json() == rule
