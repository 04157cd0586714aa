"""Live fan-out of committed events to WebSocket subscribers, per tenant.

One channel-layer message per committed request (a bulk of 1000 events is one
message), sent to the tenant's group after COMMIT. Subscribers filter on their
side of the group (severity, action, resource type, user id) and the `user`
role only ever receives its own events.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

SEVERITIES = frozenset({"INFO", "WARNING", "ERROR", "CRITICAL"})
_ACTION = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
FILTER_FIELDS = ("severity", "action", "resource_type", "user_id")


def group_name(tenant_id: str) -> str:
    """The tenant's channel group; tenant ids are slugs, valid in group names."""
    return f"events.{tenant_id}"


def publish(tenant_id: str, events: list[dict]) -> None:
    """Send one batch to the tenant's subscribers; never fails the caller.

    Called from `transaction.on_commit`, so the events are durable already; a
    Redis hiccup costs live viewers these events, not the write.
    """
    if not events:
        return
    try:
        async_to_sync(get_channel_layer().group_send)(
            group_name(tenant_id), {"type": "events.batch", "events": events}
        )
    except Exception:  # noqa: BLE001 - the stream is best effort, the write is done
        logger.exception("stream publish failed for tenant %s (%d events)", tenant_id, len(events))


class BadFilter(ValueError):
    """A stream filter value is malformed (close code 4400)."""


@dataclass(frozen=True)
class StreamFilter:
    """What one subscriber wants to see; empty sets mean "anything"."""

    severity: frozenset[str] = frozenset()
    action: frozenset[str] = frozenset()
    resource_type: frozenset[str] = frozenset()
    user_id: frozenset[str] = frozenset()

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> StreamFilter:
        values = {name: _split(params.get(name, "")) for name in FILTER_FIELDS}
        values["severity"] = frozenset(v.upper() for v in values["severity"])
        values["action"] = frozenset(v.upper() for v in values["action"])
        if bad := values["severity"] - SEVERITIES:
            raise BadFilter(f"severity: unknown value(s) {sorted(bad)}")
        if bad := {a for a in values["action"] if not _ACTION.match(a)}:
            raise BadFilter(f"action: invalid value(s) {sorted(bad)}")
        for name in ("resource_type", "user_id"):
            if any(len(v) > 255 for v in values[name]):
                raise BadFilter(f"{name}: values are at most 255 characters")
        return cls(**values)

    def restricted_to(self, username: str) -> StreamFilter:
        """The `user` role: only its own events (asking for others' is refused)."""
        if self.user_id - {username}:
            raise PermissionError("the user role may only stream its own events")
        return replace(self, user_id=frozenset({username}))

    def matches(self, event: Mapping) -> bool:
        return all(
            not allowed or event.get(name) in allowed
            for name, allowed in (
                ("severity", self.severity),
                ("action", self.action),
                ("resource_type", self.resource_type),
                ("user_id", self.user_id),
            )
        )

    def select(self, events: Iterable[Mapping]) -> list[Mapping]:
        return [event for event in events if self.matches(event)]


def _split(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())
