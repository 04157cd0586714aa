"""Fired alerts to webhooks: each alert of a rule with `destinations` is POSTed
to each of them, signed like the event batches of a log stream.

When such a rule fires, `queue_deliveries` writes one `AlertDelivery` per
destination in the drain's transaction (an outbox: it commits with the alert
or not at all) and, after COMMIT, queues `alerts.deliver` for the tenant; the
scheduled sweep (`alerts.deliver_sweep`) catches what a lost message or a
retry left due.

`deliver_due` takes the tenant's due deliveries one at a time, until none is
due or DESTINATIONS_DELIVER_SECONDS have passed: it claims one (SKIP LOCKED,
and moves its `next_attempt_at` a lease ahead, longer than one POST can take:
a worker that dies mid-POST leaves it due again when the lease ends), then
sends it outside any transaction: `{"alerts": [alert]}` (alerts/wire.py), with the destination's
`X-Auditlog-Timestamp` and `X-Auditlog-Signature` headers
(destinations/signing.py), through its transport (the SSRF guard checks the
address at that moment). A 2xx marks it delivered; a failure retries with the
destinations' backoff, and after DESTINATIONS_MAX_ATTEMPTS failures it is
failed for good, its last error kept. The outcome is recorded only while the
claim still holds (the row's `next_attempt_at` is still this lease's end). A
parked destination (too many failures of its event stream, or paused by an
admin) holds its alerts until it is active again. Delivery is at least once: the alert's `id` is the
receiver's idempotency key.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from destinations import signing
from destinations.choices import State
from destinations.delivery import backoff_seconds
from destinations.models import Destination
from destinations.secret_box import SecretUnavailable, open_secret
from destinations.transport import TRANSPORTS, DeliveryFailed
from tenants.scoping import activate

from .choices import DeliveryState
from .models import Alert, AlertDelivery, AlertRule
from .wire import alert_json

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    delivered: int = 0
    failed: int = 0  # attempts that failed (retried later, or given up)
    more: bool = False  # stopped at the time budget with deliveries still due
    retry_in: float | None = None  # the soonest retry of a failed attempt


def lease_seconds() -> float:
    """How long a claim holds: longer than one POST can take (connect + answer)."""
    return settings.DESTINATIONS_TIMEOUT_SECONDS * 2 + 30


def queue_deliveries(rule: AlertRule, alerts: list[Alert]) -> None:
    """In the drain's transaction (the tenant active): one delivery per fired
    alert and existing destination of the rule; the task is queued after
    COMMIT. A batch evaluated again fires no alert twice, and the unique
    (alert, destination) keeps a delivery from being written twice."""
    if not rule.destinations or not alerts:
        return
    existing = list(
        Destination.objects.filter(tenant_id=rule.tenant_id, pk__in=rule.destinations).values_list(
            "pk", flat=True
        )
    )
    rows = [
        AlertDelivery(tenant_id=rule.tenant_id, alert=alert, destination_id=destination)
        for alert in alerts
        for destination in existing
    ]
    AlertDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    if rows:
        tenant_id = rule.tenant_id
        transaction.on_commit(lambda: kick(tenant_id))


def kick(tenant_id: str, countdown: float | None = None) -> None:
    """Queue `alerts.deliver` for the tenant; if SQS refuses, the sweep sends them."""
    from .tasks import deliver  # tasks import this module

    try:
        deliver.apply_async(args=[tenant_id], countdown=countdown)
    except Exception:  # noqa: BLE001 - the outbox row is durable; the sweep retries
        logger.warning("alerts: delivery task not queued for %s; the sweep will", tenant_id)


def due(tenant_id: str):
    """The tenant's deliveries whose time has come, to destinations not parked
    (the tenant is activated)."""
    return AlertDelivery.objects.filter(
        tenant_id=tenant_id,
        state=DeliveryState.PENDING,
        next_attempt_at__lte=timezone.now(),
    ).exclude(destination__state=State.PARKED)


def sent_before(tenant_id: str, keep_hours: int):
    """The tenant's deliveries sent more than `keep_hours` ago (the tenant is activated)."""
    cutoff = timezone.now() - timedelta(hours=keep_hours)
    return AlertDelivery.objects.filter(
        tenant_id=tenant_id, state=DeliveryState.DELIVERED, delivered_at__lt=cutoff
    )


def deliver_due(tenant_id: str, *, budget_seconds: float | None = None) -> Outcome:
    """Send the tenant's due alert deliveries, one claim at a time, until none
    is due or the budget (DESTINATIONS_DELIVER_SECONDS) is spent."""
    budget = settings.DESTINATIONS_DELIVER_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    outcome = Outcome()
    tried: set[int] = set()  # once per call, even with a retry delay of 0
    while (delivery := _claim(tenant_id, tried)) is not None:
        tried.add(delivery.pk)
        _attempt(delivery, outcome)
        if time.monotonic() > deadline:
            outcome.more = True
            break
    return outcome


def _attempt(delivery: AlertDelivery, outcome: Outcome) -> None:
    error = _send(delivery)
    if error is None:
        _record(delivery, state=DeliveryState.DELIVERED, delivered_at=timezone.now())
        outcome.delivered += 1
        return
    outcome.failed += 1
    attempts = delivery.attempts + 1
    if attempts >= settings.DESTINATIONS_MAX_ATTEMPTS:
        _record(delivery, attempts=attempts, last_error=error, state=DeliveryState.FAILED)
        return
    wait = backoff_seconds(attempts)
    later = timezone.now() + timedelta(seconds=wait)
    _record(delivery, attempts=attempts, last_error=error, next_attempt_at=later)
    outcome.retry_in = wait if outcome.retry_in is None else min(outcome.retry_in, wait)


def _claim(tenant_id: str, tried: Collection[int] = ()) -> AlertDelivery | None:
    """The oldest due delivery, leased to this worker (its `next_attempt_at`
    set to the lease's end); None when nothing is due."""
    with transaction.atomic():
        activate(tenant_id)
        delivery = (
            due(tenant_id)
            .exclude(pk__in=tried)
            .select_related("alert", "destination")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at", "id")
            .first()
        )
        if delivery is None:
            return None
        delivery.next_attempt_at = timezone.now() + timedelta(seconds=lease_seconds())
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=delivery.next_attempt_at
        )
    return delivery


def encode_body(alert: Alert) -> bytes:
    return json.dumps(
        {"alerts": [alert_json(alert)]}, cls=JSONEncoder, separators=(",", ":"), ensure_ascii=False
    ).encode()


def _send(delivery: AlertDelivery) -> str | None:
    """POST the alert; None when the destination took it, else why not."""
    destination = delivery.destination
    body = encode_body(delivery.alert)
    try:
        secret = open_secret(destination.tenant_id, str(destination.pk), destination.secret)
        headers = signing.signed_headers(secret, body)
        TRANSPORTS[destination.kind].send(destination.url, body, headers)
    except (DeliveryFailed, SecretUnavailable) as failure:
        return str(failure)[:500] or type(failure).__name__
    return None


def _record(delivery: AlertDelivery, **changes) -> bool:
    """Write the attempt's outcome while the claim holds; False if the lease
    ended and another worker took the delivery meanwhile (its outcome counts)."""
    with transaction.atomic():
        activate(delivery.tenant_id)
        held = AlertDelivery.objects.filter(
            pk=delivery.pk, state=DeliveryState.PENDING, next_attempt_at=delivery.next_attempt_at
        )
        return held.update(**changes) == 1
