"""Live fan-out of committed events to WebSocket subscribers, per tenant.

One channel-layer message per committed request (a bulk of 1000 events is one
message), sent to the tenant's group after COMMIT. Subscribers filter on their
side of the group (severity, action, resource type, user id) and the `user`
role only ever receives its own events. A subscriber that reconnects with a
resume cursor is replayed what it missed from PostgreSQL (`replay`), and the
number of concurrent subscriptions is bounded by Redis slots (`StreamSlots`).
The delivery guarantee is written out in docs/architecture.md#live-stream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import os
import re
import threading
import time
import uuid
import weakref
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
from redis import asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from tenants.scoping import activate

from .fields import EVENT_FIELDS
from .models import Event
from .wire import event_json

logger = logging.getLogger(__name__)

SEVERITIES = frozenset({"INFO", "WARNING", "ERROR", "CRITICAL"})
_ACTION = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
FILTER_FIELDS = ("severity", "action", "resource_type", "user_id")


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


def publish_flush(timeout: float = 5.0) -> None:
    """Block until this process's pending publishes have reached Redis (or failed)."""
    _publisher.flush(timeout)


def on_events_committed(sender, tenant_id: str, events: list[dict], **kwargs) -> None:
    """Receiver of logs.signals.events_committed_signal: one message per request."""
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
        raw = f"s1|{self.position.isoformat()}|{last}"
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> ResumeCursor:
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
            version, stamp, last = raw.split("|")
            position = datetime.fromisoformat(stamp)
            if version != "s1" or position.tzinfo is None or len(value) > 200:
                raise ValueError(version)
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
        return position - timedelta(seconds=settings.STREAM_RESUME_OVERLAP)


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
        return list(rows[: limit + 1])


def wire(rows: Iterable[dict]) -> list[dict]:
    """Stored rows in the stream's JSON shape (the API's)."""
    return [event_json(row) for row in rows]


# --- Concurrency slots ----------------------------------------------------------

# KEYS: the user's and the tenant's slot sets; ARGV: slot, now, expiry, user cap,
# tenant cap. Expired slots (a process that died) are dropped before counting.
_ACQUIRE = """
for i, key in ipairs(KEYS) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
    if redis.call('ZCARD', key) >= tonumber(ARGV[3 + i]) then return i end
end
for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, ARGV[3], ARGV[1])
    redis.call('EXPIRE', key, math.ceil(ARGV[3] - ARGV[2]) + 1)
end
return 0
"""

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _redis() -> aioredis.Redis:
    """One async client per event loop (a client cannot cross loops)."""
    loop = asyncio.get_running_loop()
    if loop not in _clients:
        _clients[loop] = aioredis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=settings.STREAM_REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=2,
            retry_on_error=[RedisConnectionError],  # a dead pooled connection: once more
        )
    return _clients[loop]


class TooManyStreams(Exception):
    """The user's or the tenant's concurrent streams are at their cap (4429)."""


class StreamSlots:
    """One subscription's slots in its user's and its tenant's slot sets.

    A slot lives three heartbeats unless refreshed, so slots of a process that
    died free themselves; `release` frees them at once on disconnect. Redis
    errors propagate: the stream cannot run without Redis anyway (4503).
    """

    def __init__(self, user_id: object, tenant_id: str) -> None:
        # The channel layer's prefix: kept apart per installation and per test run.
        prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]  # type: ignore[index]
        self.keys = [f"{prefix}:slots:user:{user_id}", f"{prefix}:slots:tenant:{tenant_id}"]
        self.slot = uuid.uuid4().hex
        self.held = False

    @staticmethod
    def _expiry() -> tuple[float, float]:
        now = time.time()
        return now, now + 3 * settings.STREAM_HEARTBEAT_SECONDS

    async def acquire(self) -> None:
        now, expires = self._expiry()
        caps = (settings.STREAM_MAX_PER_USER, settings.STREAM_MAX_PER_TENANT)
        full = await _redis().eval(_ACQUIRE, 2, *self.keys, self.slot, now, expires, *caps)
        if full:
            raise TooManyStreams("user" if full == 1 else "tenant")
        self.held = True

    async def refresh(self) -> None:
        now, expires = self._expiry()
        pipe = _redis().pipeline(transaction=False)
        for key in self.keys:  # the set outlives its longest slot
            pipe.zadd(key, {self.slot: expires}, xx=True)
            pipe.expire(key, math.ceil(expires - now) + 1)
        await pipe.execute()

    async def release(self) -> None:
        if self.held:
            self.held = False
            pipe = _redis().pipeline(transaction=False)
            for key in self.keys:
                pipe.zrem(key, self.slot)
            await pipe.execute()
