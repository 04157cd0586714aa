"""Live fan-out of committed events to WebSocket subscribers, per tenant.

One channel-layer message per committed request (a bulk of 1000 events is one
message), sent to the tenant's group after COMMIT. Subscribers filter on their
side of the group (severity, action, resource type, user id) and the `user`
role only ever receives its own events.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace

from channels.layers import get_channel_layer

from .wire import event_json

logger = logging.getLogger(__name__)

SEVERITIES = frozenset({"INFO", "WARNING", "ERROR", "CRITICAL"})
_ACTION = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
FILTER_FIELDS = ("severity", "action", "resource_type", "user_id")


def group_name(tenant_id: str) -> str:
    """The tenant's channel group; tenant ids are slugs, valid in group names."""
    return f"events.{tenant_id}"


class _Publisher:
    """Sends channel-layer messages from sync code without blocking it.

    One event loop per process runs in a daemon thread and keeps the Redis
    connection pool alive; `send` only schedules the coroutine there (a few
    microseconds), so a request does not wait for Redis, and messages leave in
    the order they were scheduled. Created lazily, and again after a fork.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="stream-publisher", daemon=True
                ).start()
            return self._loop

    def send(self, group: str, message: dict) -> Future:
        future = asyncio.run_coroutine_threadsafe(
            get_channel_layer().group_send(group, message), self._running_loop()
        )
        future.add_done_callback(_log_failure)
        return future


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("stream publish failed", exc_info=future.exception())


_publisher = _Publisher()


def publish(tenant_id: str, events: list[dict]) -> Future | None:
    """Schedule one batch for the tenant's subscribers; never fails the caller.

    Called after COMMIT (the events are durable already), so a Redis hiccup
    costs live viewers these events, never the write. Returns the future of
    the send, which callers normally ignore.
    """
    if not events:
        return None
    return _publisher.send(group_name(tenant_id), {"type": "events.batch", "events": events})


def on_events_committed(sender, tenant_id: str, events: list[dict], **kwargs) -> None:
    """Receiver of logs.signals.events_committed_signal: one message per request."""
    publish(tenant_id, [event_json(event) for event in events])


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
        values: dict[str, frozenset[str]] = {
            name: _split(params.get(name, "")) for name in FILTER_FIELDS
        }
        values["severity"] = frozenset(v.upper() for v in values["severity"])
        values["action"] = frozenset(v.upper() for v in values["action"])
        if bad := values["severity"] - SEVERITIES:
            raise BadFilter(f"severity: unknown value(s) {sorted(bad)}")
        if invalid := {a for a in values["action"] if not _ACTION.match(a)}:
            raise BadFilter(f"action: invalid value(s) {sorted(invalid)}")
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
