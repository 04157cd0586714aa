"""Rules evaluated by the pipeline's alerts consumer, drained in process on real
PostgreSQL: windows, cool-downs, groups, idempotency and tenant isolation."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pipeline.models import ConsumerState
from pipeline.watermark import Snapshot
from tests.alerts.conftest import (
    create_rule,
    drain,
    failed_logins,
    fired,
    ingest,
    threshold_rule,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_threshold_fires_once_per_window(parties, alerts_consumer):
    rule = create_rule(parties, "tenant-a", threshold_rule())
    failed_logins(parties, "tenant-a", 0, 10, 20, 30)
    drain(alerts_consumer)
    assert fired("tenant-a") == []  # four in the window: not yet

    fifth = failed_logins(parties, "tenant-a", 40)
    drain(alerts_consumer)
    (alert,) = fired("tenant-a")
    assert (alert.rule_id, alert.count, alert.group_value) == (
        uuid.UUID(rule["id"]),
        5,
        "mallory",
    )
    assert str(alert.trigger_event_id) == fifth[0]
    assert len(alert.event_ids) == 5

    # The same window goes on: 6th..9th match, but a window fires once.
    failed_logins(parties, "tenant-a", 50, 60, 70, 80)
    drain(alerts_consumer)
    assert len(fired("tenant-a")) == 1
    # A fifth fresh match after the alert: a new window, a new alert.
    failed_logins(parties, "tenant-a", 90)
    drain(alerts_consumer)
    assert [a.count for a in fired("tenant-a")] == [5, 5]


def test_matches_outside_the_window_do_not_count(parties, alerts_consumer):
    create_rule(parties, "tenant-a", threshold_rule())
    failed_logins(parties, "tenant-a", 0, 100, 200, 300, 400)  # never 5 within 300 s
    drain(alerts_consumer)
    assert fired("tenant-a") == []
    failed_logins(parties, "tenant-a", 410, 420)  # 200..420: 5 within 300 s
    drain(alerts_consumer)
    (alert,) = fired("tenant-a")
    assert alert.count == 5


def test_cool_down_keeps_the_rule_quiet(parties, alerts_consumer):
    create_rule(
        parties,
        "tenant-a",
        {
            "name": "role changes",
            "filters": {"action": "ROLE_CHANGE"},
            "condition": {"type": "any"},
            "cooldown_seconds": 600,
        },
    )
    ids = failed_logins(parties, "tenant-a", 0, 60, 599, 600, 700, action="ROLE_CHANGE")
    drain(alerts_consumer)
    assert [str(a.trigger_event_id) for a in fired("tenant-a")] == [ids[0], ids[3]]


def test_without_cool_down_every_match_of_an_any_rule_fires(parties, alerts_consumer):
    create_rule(
        parties,
        "tenant-a",
        {"name": "deletes", "filters": {"action": "DELETE"}, "condition": {"type": "any"}},
    )
    ingest(parties, "tenant-a", *({"at": s, "action": "DELETE"} for s in (0, 0, 1)))
    failed_logins(parties, "tenant-a", 2)  # not a DELETE
    drain(alerts_consumer)
    assert len(fired("tenant-a")) == 3


def test_a_batch_handed_again_fires_nothing_twice(parties, alerts_consumer):
    create_rule(parties, "tenant-a", threshold_rule())
    create_rule(
        parties,
        "tenant-a",
        {"name": "any", "filters": {"action": "LOGIN_FAILED"}, "condition": {"type": "any"}},
    )
    failed_logins(parties, "tenant-a", 0, 10, 20, 30, 40)
    drain(alerts_consumer)
    before = sorted(str(a.id) for a in fired("tenant-a"))
    assert len(before) == 6  # five "any" and one threshold

    # As after a crash between the effects and the watermark, or a redrive:
    # every batch is handed to the consumer again.
    ConsumerState.objects.filter(name="alerts").update(watermark=str(Snapshot.nothing()))
    result = drain(alerts_consumer)
    assert result.batches >= 5
    assert sorted(str(a.id) for a in fired("tenant-a")) == before


def test_group_by_separates_users_and_null_counts_everyone(parties, alerts_consumer):
    create_rule(parties, "tenant-a", threshold_rule())
    everyone = threshold_rule(name="many failures")
    everyone["condition"] = {**everyone["condition"], "group_by": None}
    create_rule(parties, "tenant-a", everyone)
    failed_logins(parties, "tenant-a", 0, 10, 20, user_id="alice")
    failed_logins(parties, "tenant-a", 5, 15, 25, user_id="bob")
    drain(alerts_consumer)
    (alert,) = fired("tenant-a")
    assert (alert.rule_name, alert.group_value, alert.count) == ("many failures", None, 5)
    failed_logins(parties, "tenant-a", 30, 40, user_id="alice")
    drain(alerts_consumer)
    per_user = [a for a in fired("tenant-a") if a.rule_name == "brute force"]
    assert [(a.group_value, a.count) for a in per_user] == [("alice", 5)]


def test_group_by_ip_address(parties, alerts_consumer):
    rule = threshold_rule(name="per address")
    rule["condition"] = {**rule["condition"], "count": 3, "group_by": "ip_address"}
    create_rule(parties, "tenant-a", rule)
    failed_logins(parties, "tenant-a", 0, 1, ip_address="10.0.0.1", user_id="a")
    failed_logins(parties, "tenant-a", 2, ip_address="10.0.0.2", user_id="b")
    failed_logins(parties, "tenant-a", 3, ip_address="10.0.0.1", user_id="c")
    drain(alerts_consumer)
    assert [(a.group_value, a.count) for a in fired("tenant-a")] == [("10.0.0.1", 3)]


def test_filters_are_the_list_filters_including_text(parties, alerts_consumer):
    create_rule(
        parties,
        "tenant-a",
        {
            "name": "exfiltration",
            "filters": {"severity": ["ERROR", "CRITICAL"], "q": "export", "user_id": "eve"},
            "condition": {"type": "any"},
        },
    )
    ids = ingest(
        parties,
        "tenant-a",
        {"user_id": "eve", "severity": "ERROR", "message": "bulk export started"},
        {"user_id": "eve", "severity": "INFO", "message": "bulk export started"},
        {"user_id": "eve", "severity": "CRITICAL", "message": "login"},
        {"user_id": "bob", "severity": "ERROR", "message": "bulk export started"},
    )
    drain(alerts_consumer)
    assert [str(a.trigger_event_id) for a in fired("tenant-a")] == [ids[0]]


def test_tenant_b_events_never_fire_tenant_a_rules(parties, alerts_consumer):
    create_rule(parties, "tenant-a", threshold_rule())
    create_rule(parties, "tenant-b", threshold_rule(name="b's rule"))
    failed_logins(parties, "tenant-b", 0, 10, 20, 30, 40)
    failed_logins(parties, "tenant-a", 0, 10, 20, 30)
    drain(alerts_consumer)
    assert fired("tenant-a") == []
    (alert,) = fired("tenant-b")
    assert alert.rule_name == "b's rule"
    assert all(a.tenant_id == "tenant-b" for a in fired("tenant-b"))


def test_disabled_and_deleted_rules_do_not_fire(parties, alerts_consumer):
    off = create_rule(parties, "tenant-a", threshold_rule(enabled=False))
    gone = create_rule(parties, "tenant-a", threshold_rule(name="gone"))
    admin = parties.client("a_admin")
    assert admin.delete(f"/api/v1/alerts/rules/{gone['id']}?tenant_id=tenant-a").status_code == 204
    failed_logins(parties, "tenant-a", 0, 10, 20, 30, 40)
    drain(alerts_consumer)
    assert fired("tenant-a") == []
    assert off["enabled"] is False


def test_the_alerts_tables_are_under_row_level_security(parties, alerts_consumer):
    create_rule(parties, "tenant-a", threshold_rule())
    failed_logins(parties, "tenant-a", 0, 10, 20, 30, 40)
    drain(alerts_consumer)
    with connection.cursor() as cursor:  # no tenant activated: nothing visible
        for table in ("alerts_rule", "alerts_match", "alerts_alert"):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            assert cursor.fetchone()[0] == 0, table


def test_matches_no_evaluation_needs_are_pruned(parties, alerts_consumer, settings):
    from datetime import timedelta

    from alerts import maintenance
    from tests.alerts.conftest import T0

    create_rule(parties, "tenant-a", threshold_rule())
    failed_logins(parties, "tenant-a", 0, 10)
    drain(alerts_consumer)
    far_back = T0 - maintenance.matches_cutoff(T0)  # the cutoff lies this far back
    assert maintenance.prune_matches(now=T0 + far_back - timedelta(seconds=5)) == 0
    assert maintenance.prune_matches(now=T0 + far_back + timedelta(seconds=15)) == 2
    # What is pruned no longer counts (here only because the clock was moved):
    failed_logins(parties, "tenant-a", 20, 30, 40, 50)  # 4 left of 6 in the window
    drain(alerts_consumer)
    assert fired("tenant-a") == []


def test_evaluating_a_batch_costs_the_same_queries_however_many_groups(parties, alerts_consumer):
    """A rule's groups share its queries (last alerts, counted matches): a batch of
    30 users costs what a batch of 3 does, and each still counts on its own."""
    create_rule(parties, "tenant-a", threshold_rule())

    def batch(users: int, at: float) -> int:
        mallory = [{"at": at + i} for i in range(5)]  # crosses the threshold
        others = [{"at": at + i, "user_id": f"user-{at}-{u}"} for u in range(users) for i in (0, 1)]
        ingest(parties, "tenant-a", *mallory, *others)
        with CaptureQueriesContext(connection) as queries:
            drain(alerts_consumer)
        return len(queries)

    batch(1, at=0)  # the first drain creates the consumer's state row
    assert batch(3, at=100) == batch(30, at=200)
    assert [(a.group_value, a.count) for a in fired("tenant-a")] == [("mallory", 5)] * 3
