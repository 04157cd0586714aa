"""Consumer 2 of the pipeline: alert rules evaluated on committed events.

The drain (pipeline/drain.py) hands the committed batches in commit order,
inside its transaction; everything written here (matches, alerts) commits
with the consumer's watermark. Per tenant with enabled rules, each rule's
filters run through the list endpoint's FilterSet over the batches' events
(so a rule matches what `GET /api/v1/logs` would list), and each match is
recorded once (`RuleMatch`, unique per rule and event): a batch handed again
(a redrive, a retried group) finds its events counted already and fires
nothing twice.

Conditions, on the events' own timestamps (replayable, whatever the lag):

- `any`: each new match fires, unless the rule's last alert for the group
  ended less than `cooldown_seconds` before it;
- `threshold`: a new match fires when its group has `count` matches in
  `(t - window_seconds, t]` that came after the group's last alert (a
  window fires once; the next alert needs `count` fresh matches), and the
  cool-down since that alert has passed.

Fired alerts are pushed to the tenant's live stream after COMMIT, and sent
to the rule's destinations from an outbox written in this transaction
(alerts/delivery.py).
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db import transaction
from django.db.models import Max, Q

from logs import stream
from logs.filtersets import EventFilterSet
from logs.models import Event
from pipeline.consumers import Consumer, PendingBatch
from tenants.scoping import activate

from .choices import ConditionType, GroupBy
from .delivery import queue_deliveries
from .models import Alert, AlertRule, RuleMatch
from .selectors import enabled_rules
from .wire import alert_json


@dataclass(frozen=True)
class Match:
    event_id: UUID
    timestamp: datetime
    group_key: str
    batch_id: int


def handle(batches: Sequence[PendingBatch]) -> None:
    """Evaluate every tenant's enabled rules on its inserted events, in commit order."""
    for tenant_id, group in _inserts_by_tenant(batches).items():
        activate(tenant_id)
        for rule in enabled_rules(tenant_id):
            evaluate_rule(rule, group)
    activate("")


def _inserts_by_tenant(batches: Iterable[PendingBatch]) -> dict[str, list[PendingBatch]]:
    grouped: dict[str, list[PendingBatch]] = defaultdict(list)
    for batch in batches:
        if batch.kind == "insert" and batch.ids:
            grouped[batch.tenant_id].append(batch)
    return grouped


def evaluate_rule(rule: AlertRule, batches: Sequence[PendingBatch]) -> list[Alert]:
    """Record the rule's new matches among `batches`' events; the alerts fired."""
    new = _record_new_matches(rule, _matches(rule, batches))
    by_group: dict[str, list[Match]] = defaultdict(list)
    for match in new:
        by_group[match.group_key].append(match)
    last_ends = _last_window_ends(rule, list(by_group))
    counted = _counted(rule, by_group)
    fired: list[Alert] = []
    for group_key, matches in by_group.items():
        last = last_ends.get(group_key)
        fired.extend(_fire_for_group(rule, group_key, matches, last, counted.get(group_key, [])))
    if fired:
        payloads = [alert_json(alert) for alert in fired]
        transaction.on_commit(lambda: stream.publish_alerts(rule.tenant_id, payloads))
        queue_deliveries(rule, fired)
    return fired


def _matches(rule: AlertRule, batches: Sequence[PendingBatch]) -> list[Match]:
    """The batches' events that pass the rule's filters, in (timestamp, id) order."""
    batch_of = {event_id: batch.id for batch in batches for event_id in batch.ids}
    times = [t for batch in batches for t in batch.timestamps]
    scope = Event.objects.filter(
        tenant_id=rule.tenant_id,
        id__in=list(batch_of),
        timestamp__gte=min(times),
        timestamp__lte=max(times),
    )
    filterset = EventFilterSet(data=rule.filters, queryset=scope)
    if not filterset.is_valid():  # validated when saved; a later rule change is not retroactive
        return []
    rows = filterset.qs.order_by().values_list("id", "timestamp", "user_id", "ip_address")
    found = [
        Match(ident, timestamp, _group_key(rule, user_id, ip), batch_of[ident])
        for ident, timestamp, user_id, ip in rows
    ]
    return sorted(found, key=lambda m: (m.timestamp, str(m.event_id)))


def _group_key(rule: AlertRule, user_id: str | None, ip_address: object) -> str:
    if rule.group_by == GroupBy.USER_ID:
        return user_id or ""
    if rule.group_by == GroupBy.IP_ADDRESS:
        return str(ip_address) if ip_address else ""
    return ""


def _record_new_matches(rule: AlertRule, matches: list[Match]) -> list[Match]:
    """Store the matches not counted before; the new ones (the idempotency step)."""
    if not matches:
        return []
    seen = set(
        RuleMatch.objects.filter(rule=rule, event_id__in=[m.event_id for m in matches]).values_list(
            "event_id", flat=True
        )
    )
    new = [m for m in matches if m.event_id not in seen]
    RuleMatch.objects.bulk_create(
        RuleMatch(
            tenant_id=rule.tenant_id,
            rule=rule,
            event_id=m.event_id,
            timestamp=m.timestamp,
            group_key=m.group_key,
        )
        for m in new
    )
    return new


def _fire_for_group(
    rule: AlertRule,
    group_key: str,
    new: list[Match],
    last: datetime | None,
    counted: list[tuple[datetime, UUID]],
) -> list[Alert]:
    """The group's alerts among its `new` matches, given its last alert's end and
    its recorded matches in the windows the new ones look back on."""
    window = timedelta(seconds=rule.window_seconds)
    cooldown = timedelta(seconds=rule.cooldown_seconds)
    times = [t for t, _ in counted]
    fired: list[Alert] = []
    for match in new:
        if last is not None and rule.cooldown_seconds and match.timestamp < last + cooldown:
            continue
        if rule.condition_type == ConditionType.ANY:
            in_window = [match.event_id]
            start = match.timestamp
        else:
            lower = match.timestamp - window
            if last is not None and last > lower:
                lower = last  # a window fires once: count only what came after
            first, end = bisect_right(times, lower), bisect_right(times, match.timestamp)
            if end - first < rule.threshold_count:
                continue
            in_window = [event_id for _, event_id in counted[first:end]]
            start = counted[first][0]
        fired.append(_fire(rule, group_key, match, start, in_window))
        last = match.timestamp
    return fired


def _last_window_ends(rule: AlertRule, group_keys: list[str]) -> dict[str, datetime]:
    """The end of each group's last alert of the rule (one query for all groups)."""
    if not group_keys:
        return {}
    values = {_group_value(rule, key): key for key in group_keys}
    wanted = Q(group_value__in=[value for value in values if value is not None])
    if None in values:
        wanted |= Q(group_value__isnull=True)
    rows = (
        Alert.objects.filter(wanted, rule=rule)
        .values("group_value")
        .annotate(last=Max("window_end"))
        .values_list("group_value", "last")
    )
    return {values[value]: last for value, last in rows}


def _counted(
    rule: AlertRule, by_group: dict[str, list[Match]]
) -> dict[str, list[tuple[datetime, UUID]]]:
    """Per group, its recorded matches in (first new match - window) .. last new
    match, oldest first: what its threshold windows count (one query for all groups)."""
    if rule.condition_type == ConditionType.ANY or not by_group:
        return {}
    window = timedelta(seconds=rule.window_seconds)
    bounds = {key: (new[0].timestamp - window, new[-1].timestamp) for key, new in by_group.items()}
    rows = RuleMatch.objects.filter(
        rule=rule,
        group_key__in=list(bounds),
        timestamp__gte=min(since for since, _ in bounds.values()),
        timestamp__lte=max(until for _, until in bounds.values()),
    ).order_by("group_key", "timestamp", "event_id")
    counted: dict[str, list[tuple[datetime, UUID]]] = defaultdict(list)
    for key, timestamp, event_id in rows.values_list("group_key", "timestamp", "event_id"):
        since, until = bounds[key]
        if since <= timestamp <= until:
            counted[key].append((timestamp, event_id))
    return counted


def _group_value(rule: AlertRule, group_key: str) -> str | None:
    return group_key if rule.group_by and group_key else None


def _fire(
    rule: AlertRule, group_key: str, trigger: Match, start: datetime, event_ids: list[UUID]
) -> Alert:
    return Alert.objects.create(
        tenant_id=rule.tenant_id,
        rule=rule,
        rule_name=rule.name,
        condition_type=rule.condition_type,
        group_by=rule.group_by,
        group_value=_group_value(rule, group_key),
        count=len(event_ids),
        window_start=start,
        window_end=trigger.timestamp,
        trigger_event_id=trigger.event_id,
        event_ids=[str(i) for i in event_ids[-Alert.MAX_EVENT_IDS :]],
        batch_id=trigger.batch_id,
    )


CONSUMER = Consumer(
    name="alerts",
    handle=handle,
    wants_rows=False,  # the rules' filters read the events themselves
    description="Alert rules evaluated on committed events (alerts/evaluate.py)",
)
