"""Fired alerts sent to the rule's destinations: a real HTTP receiver gets each
alert once, signed; failures retry with backoff and give up at the limit; a
parked destination holds its alerts; rules name only their tenant's
destinations, and a deleted destination leaves its rules."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from alerts import delivery
from alerts.choices import DeliveryState
from alerts.models import AlertDelivery, AlertRule
from alerts.tasks import deliver, deliver_sweep
from destinations import signing
from destinations.choices import State
from destinations.delivery import backoff_seconds
from destinations.models import Destination
from tenants.scoping import activate
from tests.alerts.conftest import ADMINS, create_rule, drain, failed_logins, fired
from tests.destinations.receiver import running_receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relaxed(settings, alerts_consumer):
    """A receiver on 127.0.0.1 over http is allowed (the local stack's guard)."""
    settings.DESTINATIONS_ALLOW_PRIVATE = True
    settings.DESTINATIONS_REQUIRE_HTTPS = False
    settings.DESTINATIONS_RETRY_SECONDS = 0
    return alerts_consumer


@pytest.fixture
def receiver():
    with running_receiver() as running:
        yield running


def register(parties, tenant: str, url: str) -> dict:
    answer = parties.client(ADMINS[tenant]).post(
        f"/api/v1/destinations?tenant_id={tenant}",
        {"name": f"pager {uuid.uuid4().hex[:8]}", "url": url},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def any_failed_login(*destinations: str) -> dict:
    return {
        "name": "any failed login",
        "filters": {"action": "LOGIN_FAILED"},
        "condition": {"type": "any"},
        "destinations": list(destinations),
    }


def deliveries(tenant: str) -> list[AlertDelivery]:
    with transaction.atomic():
        activate(tenant)
        return list(AlertDelivery.objects.order_by("id"))


def test_each_fired_alert_reaches_each_destination_once_signed(parties, relaxed, receiver):
    pager = register(parties, "tenant-a", receiver.url)
    with running_receiver("/second") as second:
        other = register(parties, "tenant-a", second.url)
        rule = create_rule(parties, "tenant-a", any_failed_login(pager["id"], other["id"]))
        assert rule["destinations"] == [pager["id"], other["id"]]
        failed_logins(parties, "tenant-a", 0, 1)
        failed_logins(parties, "tenant-b", 0)  # another tenant's events fire nothing here
        drain(relaxed)
        alerts = fired("tenant-a")
        assert len(alerts) == 2
        assert len(deliveries("tenant-a")) == 4  # two alerts, two destinations

        outcome = delivery.deliver_due("tenant-a")
        assert (outcome.delivered, outcome.failed) == (4, 0)
        assert delivery.deliver_due("tenant-a").delivered == 0  # each sent once
        assert len(second.requests) == 2

    now = time.time()
    sent = [json.loads(r.body)["alerts"] for r in receiver.requests]
    assert sorted(a[0]["id"] for a in sent) == sorted(str(a.id) for a in alerts)
    assert all(len(a) == 1 and a[0]["tenant_id"] == "tenant-a" for a in sent)
    assert all(a[0]["rule_id"] == rule["id"] for a in sent)
    for request in receiver.requests:
        assert signing.verify(pager["secret"], request.headers, request.body, now=now)
        assert not signing.verify(other["secret"], request.headers, request.body, now=now)
    states = {d.state for d in deliveries("tenant-a")}
    assert states == {DeliveryState.DELIVERED}
    assert deliveries("tenant-b") == []


def test_a_delivery_written_again_is_kept_once(parties, relaxed, receiver):
    pager = register(parties, "tenant-a", receiver.url)
    create_rule(parties, "tenant-a", any_failed_login(pager["id"]))
    failed_logins(parties, "tenant-a", 0)
    drain(relaxed)
    [alert] = fired("tenant-a")
    with transaction.atomic():
        activate("tenant-a")
        rule = AlertRule.objects.get()
        delivery.queue_deliveries(rule, [alert])  # as a redriven evaluation would
    assert len(deliveries("tenant-a")) == 1


def test_failures_back_off_then_give_up_keeping_the_error(parties, relaxed, receiver, settings):
    settings.DESTINATIONS_RETRY_SECONDS = 30
    settings.DESTINATIONS_MAX_ATTEMPTS = 3
    receiver.default = 503
    pager = register(parties, "tenant-a", receiver.url)
    create_rule(parties, "tenant-a", any_failed_login(pager["id"]))
    failed_logins(parties, "tenant-a", 0)
    drain(relaxed)

    first = delivery.deliver_due("tenant-a")
    assert (first.delivered, first.failed, first.retry_in) == (0, 1, backoff_seconds(1))
    [row] = deliveries("tenant-a")
    assert row.state == DeliveryState.PENDING and row.attempts == 1
    assert "503" in row.last_error
    wait = (row.next_attempt_at - timezone.now()).total_seconds()
    assert 25 < wait <= 30
    assert delivery.deliver_due("tenant-a").failed == 0  # not due yet: not sent

    for attempts in (2, 3):
        _make_due("tenant-a")
        assert delivery.deliver_due("tenant-a").failed == 1
        assert deliveries("tenant-a")[0].attempts == attempts
    [row] = deliveries("tenant-a")
    assert (row.state, row.attempts) == (DeliveryState.FAILED, 3)
    _make_due("tenant-a")
    assert delivery.deliver_due("tenant-a").failed == 0  # given up: never sent again
    assert len(receiver.requests) == 3


def test_a_parked_destination_holds_its_alerts_until_active(parties, relaxed, receiver):
    pager = register(parties, "tenant-a", receiver.url)
    create_rule(parties, "tenant-a", any_failed_login(pager["id"]))
    with transaction.atomic():
        activate("tenant-a")
        Destination.objects.filter(pk=pager["id"]).update(state=State.PARKED)
    failed_logins(parties, "tenant-a", 0)
    drain(relaxed)
    assert delivery.deliver_due("tenant-a").delivered == 0
    assert deliver_sweep()["tenants"] == 0  # nothing due while parked
    answer = parties.client("a_admin").patch(
        f"/api/v1/destinations/{pager['id']}?tenant_id=tenant-a", {"state": "active"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert deliver_sweep()["tenants"] == 1
    assert deliver("tenant-a") == {"delivered": 1, "failed": 0}  # the task, in process
    assert len(receiver.requests) == 1


def test_a_claim_held_by_a_dead_worker_is_due_again_after_its_lease(parties, relaxed, receiver):
    pager = register(parties, "tenant-a", receiver.url)
    create_rule(parties, "tenant-a", any_failed_login(pager["id"]))
    failed_logins(parties, "tenant-a", 0)
    drain(relaxed)
    claimed = delivery._claim("tenant-a")  # a worker claims, then stalls or dies
    assert claimed is not None
    assert delivery.deliver_due("tenant-a").delivered == 0  # leased: nobody else sends it
    _make_due("tenant-a")  # the lease ends
    assert delivery.deliver_due("tenant-a").delivered == 1
    assert len(receiver.requests) == 1
    # The first worker comes back after its lease: its outcome no longer counts.
    assert not delivery._record(claimed, state=DeliveryState.FAILED, last_error="late")
    [row] = deliveries("tenant-a")
    assert (row.state, row.last_error) == (DeliveryState.DELIVERED, "")


def test_a_rule_names_only_its_own_tenants_destinations(parties, relaxed, receiver):
    own = register(parties, "tenant-a", receiver.url)
    foreign = register(parties, "tenant-b", receiver.url)
    for wrong in (foreign["id"], str(uuid.uuid4())):
        answer = parties.client("a_admin").post(
            "/api/v1/alerts/rules?tenant_id=tenant-a",
            any_failed_login(own["id"], wrong),
            format="json",
        )
        assert answer.status_code == 400, answer.content
        [error] = answer.json()["errors"]
        assert error["field"] == "destinations" and wrong in error["message"]
        assert own["id"] not in error["message"]
    rule = create_rule(parties, "tenant-a", any_failed_login(own["id"]))
    answer = parties.client("a_admin").patch(
        f"/api/v1/alerts/rules/{rule['id']}?tenant_id=tenant-a",
        {"destinations": [foreign["id"]]},
        format="json",
    )
    assert answer.status_code == 400, answer.content
    too_many = any_failed_login(*[own["id"]] * 11)
    answer = parties.client("a_admin").post(
        "/api/v1/alerts/rules?tenant_id=tenant-a", too_many, format="json"
    )
    assert answer.status_code == 400, answer.content
    assert [e["field"] for e in answer.json()["errors"]] == ["destinations"]


def test_a_deleted_destination_leaves_its_rules_and_pending_alerts(parties, relaxed, receiver):
    pager = register(parties, "tenant-a", receiver.url)
    kept = register(parties, "tenant-a", receiver.url)
    rule = create_rule(parties, "tenant-a", any_failed_login(pager["id"], kept["id"]))
    failed_logins(parties, "tenant-a", 0)
    drain(relaxed)
    assert len(deliveries("tenant-a")) == 2
    client = parties.client("a_admin")
    answer = client.delete(f"/api/v1/destinations/{pager['id']}?tenant_id=tenant-a")
    assert answer.status_code == 204, answer.content
    answer = client.get(f"/api/v1/alerts/rules/{rule['id']}?tenant_id=tenant-a")
    assert answer.json()["destinations"] == [kept["id"]]
    assert [str(d.destination_id) for d in deliveries("tenant-a")] == [kept["id"]]


def test_the_outbox_is_under_row_level_security(parties, relaxed, receiver):
    pager = register(parties, "tenant-a", receiver.url)
    create_rule(parties, "tenant-a", any_failed_login(pager["id"]))
    failed_logins(parties, "tenant-a", 0)
    drain(relaxed)
    assert len(deliveries("tenant-a")) == 1
    assert deliveries("tenant-b") == []  # another tenant activated: nothing
    with connection.cursor() as cursor:  # no tenant activated: nothing visible
        cursor.execute("SELECT count(*) FROM alerts_delivery")
        assert cursor.fetchone()[0] == 0


def test_the_sweep_prunes_old_sent_deliveries_and_keeps_the_rest(
    parties, relaxed, receiver, settings
):
    settings.DESTINATIONS_KEEP_HOURS = 1
    pager = register(parties, "tenant-a", receiver.url)
    create_rule(parties, "tenant-a", any_failed_login(pager["id"]))
    failed_logins(parties, "tenant-a", 0, 1, 2)
    drain(relaxed)
    assert delivery.deliver_due("tenant-a").delivered == 3
    rows = deliveries("tenant-a")
    with transaction.atomic():
        activate("tenant-a")
        old = timezone.now() - timedelta(hours=2)
        AlertDelivery.objects.filter(pk=rows[0].pk).update(delivered_at=old)
        AlertDelivery.objects.filter(pk=rows[1].pk).update(
            state=DeliveryState.FAILED, delivered_at=None, created_at=old
        )
    assert deliver_sweep()["pruned"] == 1  # delivered long ago; a failed one stays
    assert [d.pk for d in deliveries("tenant-a")] == [rows[1].pk, rows[2].pk]


def _make_due(tenant: str) -> None:
    with transaction.atomic():
        activate(tenant)
        AlertDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
