"""Rate limits and concurrency caps: one mechanism on Redis, one failure mode.

The mechanism: fixed-window counters (`{RATE_LIMIT_KEY_PREFIX}:{key}:{window}`,
every counter of a request checked and counted by one Lua script, so in ONE
round trip; a refused request counts on none) and concurrency slots (a sorted
set of holders per key, each with an expiry; a place under several caps is
taken by one Lua script, all or nothing). The Redis
client is built from `REDIS_URL`, one per process, with short timeouts and no
retries, since it sits on every request.

The failure mode, the same for every user of it (docs/operations.md): when
Redis does not answer, counters and slots are kept in this process's memory
until it does (Redis is tried again every `OUTAGE_RETRY_SECONDS`). Limits keep
engaging, per process instead of per deployment (so at most `processes x
limit`); nothing answers 500; writes go on. An outage is logged when it starts
and when it ends.

Its users:
- API limits per principal and per tenant for each kind of request
  (`enforce`): the tenant-scoped base view calls it once the tenant is known,
  `PrincipalRateThrottle` for views outside a tenant. 429 with Retry-After.
- Concurrency caps: concurrent exports per tenant (`concurrency_slot`), and
  the live stream's subscriptions per user and per tenant (`acquire_slots`
  takes a place under both caps at once; the heartbeat calls `refresh_slot`,
  the disconnect `release_slot`; async callers use the `a...` wrappers).
- The login throttle (`auditlog_project.login_throttle`).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rest_framework.exceptions import Throttled
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

OUTAGE_RETRY_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 0.5  # a local Redis answers in well under a millisecond
CONCURRENCY_RETRY_AFTER = 5
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# One counter of a request: (key, limit, ttl, whether this request counts on it).
Counter = tuple[str, int, int, bool]
# A field of a Redis hash and the value it must still hold (b"" for a missing one).
Stamp = tuple[str, str, bytes]


class StaleAccess(Exception):
    """A stamp given to `refusal` changed: nothing was counted; resolve again."""


@functools.lru_cache(maxsize=256)
def parse_rate(rate: str) -> tuple[int, int]:
    """`100/m` -> (100, 60); `300/10s` -> (300, 10)."""
    count, per = rate.split("/")
    return int(count), int(per[:-1] or 1) * _PERIODS[per[-1]]


def client_ip(request) -> str:
    """The client address: REMOTE_ADDR, or the NUM_PROXIES-th hop from the right.

    Behind the load balancer, NUM_PROXIES=1 takes the address the ALB appended.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.NUM_PROXIES and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= settings.NUM_PROXIES:
            return hops[-settings.NUM_PROXIES]
    return request.META.get("REMOTE_ADDR", "")


# --- The two stores: Redis, and this process's memory during an outage ------

# KEYS: the counters, then the hash of each stamp a cache entry the request
# relies on carries. ARGV: the number of counters, three per counter (limit,
# ttl, counted: 1 or 0), then two per stamp: the hash field and the value it
# must hold ('' for none).
# A stamp that changed refuses nothing and counts nothing: {-1}, and the caller
# resolves again (tenants/access_cache.py). Else a request that would take any
# counter past its limit counts on none of them (a user over their own limit
# does not use up their tenant's); returns the positions (1-based) of the
# counters that refused.
_TAKE = """
local n = tonumber(ARGV[1])
for j = n + 1, #KEYS do
  local at = 1 + 3 * n + 2 * (j - n)
  if (redis.call('HGET', KEYS[j], ARGV[at - 1]) or '') ~= ARGV[at] then return {-1} end
end
local refused = {}
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i]) or '0') + 1 > tonumber(ARGV[3 * i - 1]) then
    table.insert(refused, i)
  end
end
if #refused > 0 then return refused end
for i = 1, n do
  if ARGV[3 * i + 1] == '1' and redis.call('INCR', KEYS[i]) == 1 then
    redis.call('EXPIRE', KEYS[i], ARGV[3 * i])
  end
end
return refused
"""

# KEYS: the slot sets of every cap. ARGV: now, the new holder's expiry, holder,
# the sets' lifetime (whole seconds), then one limit per key. Expired holders (a
# process that died) are dropped first; a place is taken under every cap or none.
# Returns 0 when taken, else the position (1-based) of the first full cap.
_ACQUIRE = """
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  if redis.call('ZCARD', key) >= tonumber(ARGV[4 + i]) then return i end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2], ARGV[3])
  if redis.call('TTL', key) < tonumber(ARGV[4]) then redis.call('EXPIRE', key, ARGV[4]) end
end
return 0
"""

# KEYS: the holder's slot sets. ARGV: the new expiry, holder, the sets' lifetime.
# Only a place still held is extended (XX): an expired one is not taken back.
_REFRESH = """
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', ARGV[1], ARGV[2])
  if redis.call('TTL', key) < tonumber(ARGV[3]) then redis.call('EXPIRE', key, ARGV[3]) end
end
return 0
"""


def _set_lifetime(ttl: float) -> int:
    """A slot set outlives its newest holder by a second (EXPIRE takes whole seconds)."""
    return math.ceil(ttl) + 1


class _RedisStore:
    """Counters and slots in Redis; raises RedisError when Redis does not answer."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self.take_script = self.client.register_script(_TAKE)
        self.acquire_script = self.client.register_script(_ACQUIRE)
        self.refresh_script = self.client.register_script(_REFRESH)
        self.down_until = 0.0  # monotonic time before which Redis is not tried

    def take(self, counters: Sequence[Counter], stamps: Sequence[Stamp] = ()) -> list[bool]:
        args: list[int | str | bytes] = [len(counters)]
        for _key, limit, ttl, counted in counters:
            args += [limit, ttl, int(counted)]
        for _key, field, value in stamps:
            args += [field, value]
        keys = [c[0] for c in counters] + [key for key, _field, _value in stamps]
        refused = set(self.take_script(keys=keys, args=args))
        if -1 in refused:
            raise StaleAccess()
        return [i + 1 in refused for i in range(len(counters))]

    def acquire(self, caps: Sequence[tuple[str, int]], holder: str, ttl: float) -> int:
        now = time.time()
        args: list[float | str] = [
            now,
            now + ttl,
            holder,
            _set_lifetime(ttl),
            *(limit for _key, limit in caps),
        ]
        return int(self.acquire_script(keys=[key for key, _limit in caps], args=args))

    def refresh(self, keys: Sequence[str], holder: str, ttl: float) -> None:
        self.refresh_script(keys=list(keys), args=[time.time() + ttl, holder, _set_lifetime(ttl)])

    def release(self, keys: Sequence[str], holder: str) -> None:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zrem(key, holder)
        pipe.execute()


class _ProcessStore:
    """The same counters and slots in this process's memory (a Redis outage only)."""

    MAX_COUNTERS = 10_000  # past this, expired windows are dropped

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters: dict[str, tuple[float, int]] = {}  # key -> (expiry, hits)
        self.slots: dict[str, dict[str, float]] = {}  # key -> {holder: expiry}

    def take(self, counters: Sequence[Counter], stamps: Sequence[Stamp] = ()) -> list[bool]:
        if stamps:  # nothing here can vouch for them
            raise StaleAccess()
        now = time.time()
        with self.lock:
            if len(self.counters) > self.MAX_COUNTERS:
                self.counters = {k: v for k, v in self.counters.items() if v[0] > now}
            current = [self.counters.get(key, (now + ttl, 0)) for key, _l, ttl, _c in counters]
            refused = [hits + 1 > c[1] for (_e, hits), c in zip(current, counters, strict=True)]
            if not any(refused):
                for (expiry, hits), (key, _limit, _ttl, counted) in zip(
                    current, counters, strict=True
                ):
                    if counted:
                        self.counters[key] = (expiry, hits + 1)
            return refused

    def acquire(self, caps: Sequence[tuple[str, int]], holder: str, ttl: float) -> int:
        now = time.time()
        with self.lock:
            for position, (key, limit) in enumerate(caps, start=1):
                holders = {h: t for h, t in self.slots.get(key, {}).items() if t > now}
                self.slots[key] = holders
                if len(holders) >= limit:
                    return position
            for key, _limit in caps:
                self.slots[key][holder] = now + ttl
            return 0

    def refresh(self, keys: Sequence[str], holder: str, ttl: float) -> None:
        with self.lock:
            for key in keys:
                holders = self.slots.get(key, {})
                if holder in holders:
                    holders[holder] = time.time() + ttl

    def release(self, keys: Sequence[str], holder: str) -> None:
        with self.lock:
            for key in keys:
                self.slots.get(key, {}).pop(holder, None)


_PROCESS = _ProcessStore()


@functools.cache
def _redis_store(url: str) -> _RedisStore:
    """One client per process and Redis URL (redis-py's pool is fork-safe)."""
    return _RedisStore(url)


def redis_store() -> _RedisStore:
    """This process's Redis store for `REDIS_URL`, with its outage backoff
    (`down_until`), which the access cache shares."""
    return _redis_store(settings.REDIS_URL)


def redis_client() -> redis.Redis:
    """This process's Redis client for `REDIS_URL` (short timeouts, no retries).

    Public for the readiness probe, which checks the Redis the limits use.
    """
    return _redis_store(settings.REDIS_URL).client


def _run(operation: Callable[[Any], Any]) -> tuple[Any, Any]:
    """`operation(store)` on Redis, or on this process's store while Redis is down.

    Returns (result, the store that ran it), so a slot is freed where it was
    taken. The outage's start and end are logged, not each request.
    """
    store = _redis_store(settings.REDIS_URL)
    if time.monotonic() >= store.down_until:
        try:
            result = operation(store)
        except RedisError as exc:
            if not store.down_until:
                logger.warning("Redis unreachable (%s): limits are counted per process", exc)
            store.down_until = time.monotonic() + OUTAGE_RETRY_SECONDS
        else:
            if store.down_until:
                logger.warning("Redis reachable again: limits are counted in Redis")
                store.down_until = 0.0
            return result, store
    return operation(_PROCESS), _PROCESS


# --- Fixed windows ------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """`key` may be hit `rate` times per window; `counted=False` only checks it."""

    key: str
    rate: str
    counted: bool = True


def refusal(limits: Sequence[Limit], stamps: Sequence[Stamp] = ()) -> int | None:
    """Seconds to wait if this request would take any limit past its rate, else None.

    One round trip. A request that is let through counts on every counted
    limit; a refused one counts on none. Windows are aligned to the epoch; the
    wait is what is left of the longest window that refused. With `stamps`,
    the same round trip first checks that each key still holds its value, and
    raises StaleAccess, counting nothing, when one does not (or Redis is down).
    """
    now = int(time.time())
    prefix = settings.RATE_LIMIT_KEY_PREFIX
    rates = [parse_rate(limit.rate) for limit in limits]
    counters = [
        # The counter outlives its window by a second.
        (f"{prefix}:{limit.key}:{now // period}", count, period + 1, limit.counted)
        for limit, (count, period) in zip(limits, rates, strict=True)
    ]
    refused, _store = _run(lambda store: store.take(counters, stamps))
    waits = [period - now % period for (_, period), no in zip(rates, refused, strict=True) if no]
    return max(waits) if waits else None


# --- Concurrency slots ------------------------------------------------------------


class CapReached(Exception):
    """Every place under one of the caps is taken; `key` names that cap (as given)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass
class Slot:
    """One held place under one or more concurrency caps (`release_slot` frees it).

    A holder that is neither refreshed nor released within its ttl (a killed
    process) is dropped by the next `acquire_slots` on the same cap.
    """

    keys: tuple[str, ...]
    holder: str
    store: Any
    released: bool = False

    def release(self) -> None:
        """Free the place under every cap; idempotent; never raises (it expires)."""
        if self.released:
            return
        self.released = True
        try:
            self.store.release(self.keys, self.holder)
        except RedisError:
            logger.warning("slot %s not released (Redis down); it expires", self.keys)


def _slot_key(key: str) -> str:
    return f"{settings.RATE_LIMIT_KEY_PREFIX}:slot:{key}"


def acquire_slots(caps: Sequence[tuple[str, int]], ttl: float) -> Slot:
    """One place under every cap `(key, limit)` at once, all or nothing.

    Raises CapReached naming the first cap that is full; then no place is taken
    under any of them. One round trip (a Lua script). The place lives `ttl`
    seconds unless `refresh_slot` extends it; `release_slot` frees it at once.
    While Redis is down the places are kept in this process (module docstring).
    """
    keys = tuple(_slot_key(key) for key, _limit in caps)
    named = [(name, limit) for name, (_key, limit) in zip(keys, caps, strict=True)]
    holder = uuid.uuid4().hex
    full, store = _run(lambda store: store.acquire(named, holder, ttl))
    if full:
        raise CapReached(caps[full - 1][0])
    return Slot(keys, holder, store)


def acquire_slot(key: str, limit: int, ttl: float) -> Slot | None:
    """A place among at most `limit` concurrent holders of `key`, or None when full."""
    try:
        return acquire_slots([(key, limit)], ttl)
    except CapReached:
        return None


def refresh_slot(slot: Slot, ttl: float) -> None:
    """Keep a held place for another `ttl` seconds (a heartbeat); never raises.

    Refreshed where it was taken. A place that expired already is not taken
    back; one in a Redis that stopped answering is logged and left to expire.
    """
    if slot.released:
        return
    try:
        slot.store.refresh(slot.keys, slot.holder, ttl)
    except RedisError:
        logger.warning("slot %s not refreshed (Redis down); it expires", slot.keys)


def release_slot(slot: Slot | None) -> None:
    """Free a slot from `acquire_slots` (None and a second release are no-ops)."""
    if slot is not None:
        slot.release()


# The same calls for async code (the stream consumer): each runs in a worker
# thread, off the event loop, and not on the thread that serialises ORM calls.
aacquire_slots = sync_to_async(acquire_slots, thread_sensitive=False)
arefresh_slot = sync_to_async(refresh_slot, thread_sensitive=False)
arelease_slot = sync_to_async(release_slot, thread_sensitive=False)


# --- API limits ---------------------------------------------------------------


def principal_key(request) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return f"ip:{client_ip(request)}"
    return f"user:{user.pk}"


def request_kind(request, declared: str | None = None) -> str:
    """The kind of request a limit applies to: declared by the view, else by method."""
    if declared:
        return declared
    return "read" if request.method in SAFE_METHODS else "write"


def enforce(request, kind: str, tenant_id: str | None = None, stamps: Sequence[Stamp] = ()) -> None:
    """Count one `kind` request for the principal and the tenant; 429 past either.

    The limits are `RATE_LIMITS[kind]` (`user`, `tenant`); both counters move
    in one round trip, which also checks `stamps` (see `refusal`).
    """
    rates = settings.RATE_LIMITS[kind]
    limits = [Limit(f"{kind}:{principal_key(request)}", rates["user"])]
    if tenant_id is not None:
        limits.append(Limit(f"{kind}:tenant:{tenant_id}", rates["tenant"]))
    wait = refusal(limits, stamps)
    if wait is not None:
        raise Throttled(wait=wait, detail=f"Too many {kind} requests.")


def concurrency_slot(kind: str, tenant_id: str) -> Slot | None:
    """A place among the tenant's concurrent `kind` requests (CONCURRENCY_PER_TENANT).

    None when the kind has no cap; 429 when the tenant's places are all taken.
    """
    cap = settings.CONCURRENCY_PER_TENANT.get(kind)
    if cap is None:
        return None
    slot = acquire_slot(f"{kind}:tenant:{tenant_id}", cap, settings.CONCURRENCY_SLOT_TTL)
    if slot is None:
        raise Throttled(
            wait=CONCURRENCY_RETRY_AFTER,
            detail=f"This tenant already runs {cap} concurrent {kind} requests.",
        )
    return slot


class PrincipalRateThrottle(BaseThrottle):
    """The per-principal limit of views outside a tenant (users, tenants list, me).

    Tenant-scoped views do not use it: their base view counts the principal and
    the tenant together once the tenant is known, in one round trip.
    """

    def allow_request(self, request, view) -> bool:
        enforce(request, request_kind(request))
        return True
