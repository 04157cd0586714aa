"""Live fan-out of committed events to WebSocket subscribers, per tenant.

One channel-layer message per committed request (a bulk of 1000 events is one
message), sent to the tenant's group after COMMIT. Subscribers filter on their
side of the group (severity, action, resource type, user id) and the `user`
role only ever receives its own events. A subscriber that reconnects with a
resume cursor is replayed what it missed from PostgreSQL (`replay`), and the
number of concurrent subscriptions is capped per user and per tenant
(`stream_caps`, places taken with `auditlog_project.ratelimits.acquire_slots`).
The delivery guarantee is written out in docs/architecture.md#live-stream.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.utils import create_pool
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from redis.exceptions import ConnectionError as RedisConnectionError

from encryption.rows import open_rows
from tenants.scoping import activate

from .choices import Category
from .fields import EVENT_FIELDS
from .models import Event
from .pagination import opaque, opened, utc_position
from .wire import event_json

logger = logging.getLogger(__name__)

SEVERITIES = frozenset({"INFO", "WARNING", "ERROR", "CRITICAL"})
_ACTION = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
FILTER_FIELDS = ("severity", "action", "resource_type", "user_id", "category")
CATEGORIES = frozenset(Category.values)


class StreamChannelLayer(RedisChannelLayer):
    """The Redis channel layer with its blocking-read wait taken from settings.

    Upstream fixes the wait of each BZPOPMIN at 5 s (a class attribute); it must
    stay below the Redis client's socket timeout (settings validate that), and
    tests shorten both to prove an idle subscriber survives many polls.
    """

    def __init__(self, *, poll_seconds: float = 5.0, **config) -> None:
        super().__init__(**config)
        self.brpop_timeout = poll_seconds

    def create_pool(self, index: int):
        # After Redis restarts, the pool's idle connections are dead; redis-py does
        # not retry a command by default when the pool is built for it, so the
        # first subscription (or publish) after an outage failed. One retry on a
        # fresh connection fixes that; a Redis that is really down still fails.
        host = {"retry_on_error": [RedisConnectionError], **self.hosts[index]}
        return create_pool(host)


def group_name(tenant_id: str) -> str:
    """The tenant's channel group; tenant ids are slugs, valid in group names."""
    return f"events.{tenant_id}"


def user_group(user_id: object) -> str:
    """The group of every open stream of one user (access-change notices)."""
    return f"user.{user_id}"


# Sends of one process in flight at once: under the channel layer's pool of
# 100 Redis connections (redis-py's default), past which a send fails with
# MaxConnectionsError; the rest wait their turn, in order.
MAX_SENDS_IN_FLIGHT = 32


class _Publisher:
    """Sends channel-layer messages from sync code without blocking it.

    One event loop per process runs in a daemon thread and keeps the Redis
    connection pool alive; `send` only schedules the coroutine there (a few
    microseconds), so a request does not wait for Redis, and sends start in
    the order they were scheduled, at most MAX_SENDS_IN_FLIGHT at a time (a
    burst of commits queues instead of failing; sends in flight together may
    reach Redis in either order, which `flush` allows for). Created lazily, and again
    after a fork.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None  # made in the loop's thread
        self._pid = 0

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._slots = None
                self._pid = os.getpid()
                threading.Thread(
                    target=self._loop.run_forever, name="stream-publisher", daemon=True
                ).start()
            return self._loop

    async def _send(self, group: str, message: dict) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_SENDS_IN_FLIGHT)
        async with self._slots:
            await get_channel_layer().group_send(group, message)

    def send(self, group: str, message: dict) -> Future:
        future = asyncio.run_coroutine_threadsafe(self._send(group, message), self._running_loop())
        future.add_done_callback(_log_failure)
        return future

    def flush(self, timeout: float) -> None:
        """Wait until every send scheduled so far has finished (or failed).

        Sends run concurrently on the loop, so a later one can reach Redis
        first; after a flush, everything published before it is in Redis.
        """
        loop = self._running_loop()

        async def others_done() -> None:
            current = asyncio.current_task()
            await asyncio.gather(*(asyncio.all_tasks() - {current}), return_exceptions=True)

        asyncio.run_coroutine_threadsafe(others_done(), loop).result(timeout=timeout)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("stream publish failed", exc_info=future.exception())


_publisher = _Publisher()


def publish(tenant_id: str, events: list[dict]) -> Future | None:
    """Schedule one batch for the tenant's subscribers; never fails the caller.

    Called after COMMIT (the events are durable already), so a Redis hiccup
    costs live viewers these events, never the write; a subscriber gets them
    back by resuming from its last cursor (a replay from PostgreSQL). Returns
    the future of the send, which callers normally ignore.
    """
    if not events:
        return None
    return _publisher.send(group_name(tenant_id), {"type": "events.batch", "events": events})


def publish_alerts(tenant_id: str, alerts: list[dict]) -> None:
    """Schedule fired alerts (alerts/wire.py shape) for the tenant's subscribers
    whose role may read alerts; after the pipeline's COMMIT, never fails it."""
    for alert in alerts:
        _publisher.send(group_name(tenant_id), {"type": "alert.fired", "alert": alert})


def publish_flush(timeout: float = 5.0) -> None:
    """Block until this process's pending publishes have reached Redis (or failed)."""
    _publisher.flush(timeout)


def on_access_changed(sender, *, user_id, tenant_id, reason, **kwargs) -> None:
    """Tell the open streams a change touches to re-check their access now.

    Receiver of auditlog_project.access.ACCESS_CHANGED (after COMMIT): a notice
    on the user's group (or, for a change to a whole tenant, the tenant's),
    which each stream answers by re-checking its token and tenant access
    (consumers.py). Waits for Redis to take the notice (changes of access are
    rare, and a command that exits at once must not lose it); if Redis cannot,
    the streams' periodic re-check (STREAM_ACCESS_RECHECK_SECONDS) catches up.
    """
    group = user_group(user_id) if user_id is not None else group_name(tenant_id)
    notice = {"type": "access.changed", "tenant_id": tenant_id, "reason": reason}
    try:
        _publisher.send(group, notice).result(timeout=settings.STREAM_NOTICE_TIMEOUT)
    except Exception:  # noqa: BLE001 - logged by the send; the re-check covers it
        logger.warning("stream: access-change notice not sent; periodic re-check will close")


def on_events_committed(tenant_id: str, events: list[dict]) -> None:
    """Publish one request's committed rows to the tenant's subscribers, as one message.

    Called by logs/after_commit.py (its CONSUMERS list) after the request's
    COMMIT, with the stored rows; warns when the COMMIT came later than
    STREAM_RESUME_OVERLAP after the first row's received_at. Never raises for
    a Redis failure (see `publish`).
    """
    if events:
        _warn_if_committed_late(events[0]["received_at"])
    publish(tenant_id, [event_json(event) for event in events])


def _warn_if_committed_late(received_at: datetime) -> None:
    # Resume replays by received_at with STREAM_RESUME_OVERLAP of slack; a COMMIT
    # later than that could be skipped by a resuming subscriber, so say so loudly.
    lag = time.time() - received_at.timestamp()
    if lag > settings.STREAM_RESUME_OVERLAP:
        logger.warning(
            "events committed %.1f s after received_at, beyond STREAM_RESUME_OVERLAP (%s s): "
            "a resuming stream subscriber may miss them",
            lag,
            settings.STREAM_RESUME_OVERLAP,
        )


class BadFilter(ValueError):
    """A stream filter or resume cursor is malformed (close code 4400)."""


@dataclass(frozen=True)
class StreamFilter:
    """What one subscriber wants to see; empty sets mean "anything"."""

    severity: frozenset[str] = frozenset()
    action: frozenset[str] = frozenset()
    resource_type: frozenset[str] = frozenset()
    user_id: frozenset[str] = frozenset()
    category: frozenset[str] = frozenset()

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> StreamFilter:
        values: dict[str, frozenset[str]] = {
            name: _split(params.get(name, "")) for name in FILTER_FIELDS
        }
        values["severity"] = frozenset(v.upper() for v in values["severity"])
        values["action"] = frozenset(v.upper() for v in values["action"])
        values["category"] = frozenset(v.lower() for v in values["category"])
        if bad := values["category"] - CATEGORIES:
            raise BadFilter(f"category: unknown value(s) {sorted(bad)}")
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

    def _pairs(self) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple((name, getattr(self, name)) for name in FILTER_FIELDS)

    def matches(self, event: Mapping) -> bool:
        return all(not allowed or event.get(name) in allowed for name, allowed in self._pairs())

    def select(self, events: Iterable[Mapping]) -> list[Mapping]:
        return [event for event in events if self.matches(event)]

    def narrow(self, events: QuerySet[Event]) -> QuerySet[Event]:
        """The same selection in SQL, for the replay."""
        wanted = {f"{name}__in": sorted(allowed) for name, allowed in self._pairs() if allowed}
        return events.filter(**wanted)

    def as_params(self) -> dict[str, str]:
        """The filter as list-API query parameters (comma lists)."""
        return {name: ",".join(sorted(allowed)) for name, allowed in self._pairs() if allowed}


def _split(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


# --- Resume -----------------------------------------------------------------


EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ResumeCursor:
    """Where a subscriber's view was complete: a server time, and the last event id.

    Opaque to clients (base64url). `position` is the server time at which the
    subscriber had been sent every matching event committed before it (see the
    guarantee in docs/architecture.md); `last_id`, when set, is an event the
    client has, never sent again on resume.
    """

    position: datetime
    last_id: uuid.UUID | None = None

    def encode(self) -> str:
        last = self.last_id.hex if self.last_id else ""
        return opaque(f"s1|{self.position.isoformat()}|{last}")

    @classmethod
    def decode(cls, value: str) -> ResumeCursor:
        try:
            if len(value) > 200:
                raise ValueError(value[:20])
            version, stamp, last = opened(value).split("|")
            if version != "s1":
                raise ValueError(version)
            position = utc_position(stamp)
            return cls(position=position, last_id=uuid.UUID(hex=last) if last else None)
        except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
            raise BadFilter("cursor: invalid; pass a cursor as the stream sent it") from None

    @classmethod
    def now(cls, last_id: str | uuid.UUID | None = None) -> ResumeCursor:
        last = uuid.UUID(str(last_id)) if last_id else None
        return cls(position=datetime.now(UTC), last_id=last)

    def replay_from(self) -> datetime:
        """The first received_at a replay reads: the position less the overlap."""
        position = min(self.position, datetime.now(UTC))  # a future cursor skips nothing
        overlap = timedelta(seconds=settings.STREAM_RESUME_OVERLAP)
        # A crafted cursor near year 1 starts at the first moment instead of overflowing.
        return position - overlap if position - EARLIEST > overlap else EARLIEST


def replay(*, tenant_id: str, wanted: StreamFilter, since: datetime, limit: int) -> list[dict]:
    """Stored events received since `since` that `wanted` selects, oldest first.

    Order (received_at, id); at most `limit + 1` rows, so the caller can tell
    "more than the limit". Read under the tenant's row-level security
    (`activate`) in one transaction, which is one snapshot.
    """
    with transaction.atomic():
        activate(tenant_id)
        events = Event.objects.filter(tenant_id=tenant_id, received_at__gte=since)
        rows = wanted.narrow(events).order_by("received_at", "id").values(*EVENT_FIELDS)
        found = list(rows[: limit + 1])
        open_rows(found)
        return found


def wire(rows: Iterable[dict]) -> list[dict]:
    """Stored rows in the stream's JSON shape (the API's)."""
    return [event_json(row) for row in rows]


# --- Concurrency caps ------------------------------------------------------------


def stream_caps(user_id: object, tenant_id: str) -> list[tuple[str, int]]:
    """The caps a subscription takes a place under: its user's, then its tenant's.

    Taken with `auditlog_project.ratelimits.acquire_slots`, both at once.
    """
    return [
        (f"stream:user:{user_id}", settings.STREAM_MAX_PER_USER),
        (f"stream:tenant:{tenant_id}", settings.STREAM_MAX_PER_TENANT),
    ]


def slot_ttl() -> float:
    """A subscription's place lives three heartbeats unless the heartbeat refreshes it,
    so the places of a process that died free themselves."""
    return 3 * settings.STREAM_HEARTBEAT_SECONDS
