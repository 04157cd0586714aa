"""The hot path's cache of a token's user and the tenants they reach (issue 14).

A bearer request used to read its user (active flag, password claim) and its
membership from PostgreSQL: two of the seven round trips of a single-event
POST. Here each process keeps, per user, the user row and the `TenantAccess`
values resolved for them, and checks on every request that nothing they
depend on changed since, in a Redis round trip: for the tenant-scoped views,
inside the one their rate limits make anyway (ratelimits.refusal's stamps,
checked before anything is counted: a stale entry costs a second pass from
PostgreSQL); for other views, an HMGET of two fields of one small hash:

- the user's *generation*, incremented by `invalidate` after COMMIT of any change
  that bears on access (auditlog_project.access: password, active flag,
  superuser flag, username, a membership created, changed or deleted, the
  user deleted; a tenant saved bumps every member), so the next request of
  that user in every process misses and reads PostgreSQL again: invalidation
  is immediate, not after a delay;
- the deployment's *epoch*, a random value set once: if Redis loses its data
  (a restart without persistence), the epoch is new and every entry, stamped
  with the old one, misses. Epoch and generations share one hash with no
  expiry (`hash_key`), so nothing loses a generation and keeps the epoch.

Generations are read *before* PostgreSQL when an entry is (re)built, so a
change that commits while it is built bumps a generation the entry does not
carry. When Redis does not answer, the cache is not used at all: every request
reads PostgreSQL as before, with one warning per outage, and Redis is asked
again only after the rate limiter's backoff (OUTAGE_RETRY_SECONDS). An entry also expires
after ACCESS_CACHE_SECONDS whatever happens (the bound for changes made outside
Django, e.g. SQL by hand, or a bump Redis refused), and ACCESS_CACHE_SECONDS=0
turns the cache off. Only successes are cached: a refused tenant is read again
each time.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from redis.exceptions import RedisError

from auditlog_project import ratelimits

if TYPE_CHECKING:
    from .scoping import TenantAccess

logger = logging.getLogger(__name__)

MAX_USERS = 10_000  # entries kept per process; the least recently used go first


@dataclass(frozen=True)
class Stamp:
    """What an entry was built under: the epoch and the user's generation, as
    Redis holds them (b"" for a generation never bumped)."""

    epoch: bytes
    generation: bytes


@dataclass
class Entry:
    stamp: Stamp
    user: Any
    born: float
    accesses: dict[tuple[str, bool], TenantAccess] = field(default_factory=dict)


_entries: OrderedDict[int, Entry] = OrderedDict()
_lock = threading.Lock()
_redis_down = [False]


EPOCH = "epoch"


def hash_key() -> str:
    """One Redis hash holds the epoch and every user's generation, with no
    expiry: whatever loses part of it (an eviction, a restart without
    persistence) loses the epoch with it, so no generation can go back to a
    value an old entry carries while the epoch survives."""
    return f"{settings.RATE_LIMIT_KEY_PREFIX}:access"


def enabled() -> bool:
    return settings.ACCESS_CACHE_SECONDS > 0


def current_stamp(user_id: int) -> Stamp | None:
    """The stamp an entry of this user must carry now; None when Redis is down."""
    store = ratelimits.redis_store()
    if time.monotonic() < store.down_until:  # an outage: not even one timeout per request
        return None
    key = hash_key()
    try:
        epoch, generation = store.client.hmget(key, [EPOCH, str(user_id)])
        if epoch is None:  # a new Redis (or the first request ever): a new epoch
            store.client.hsetnx(key, EPOCH, uuid.uuid4().hex)
            epoch, generation = store.client.hmget(key, [EPOCH, str(user_id)])
    except RedisError as exc:
        if not _redis_down[0]:
            logger.warning("access cache off while Redis does not answer (%s)", exc)
        _redis_down[0] = True
        store.down_until = time.monotonic() + ratelimits.OUTAGE_RETRY_SECONDS
        return None
    if _redis_down[0]:
        logger.warning("Redis answers again: access cache back on")
        _redis_down[0] = False
    return Stamp(_raw(epoch), _raw(generation))


def _raw(value: bytes | str | None) -> bytes:
    return value.encode() if isinstance(value, str) else value or b""


@dataclass(frozen=True)
class Found:
    """A user for this request: from a valid entry, or loaded (`entry` None when
    the cache cannot be used). `verified` False: the entry was not checked
    against Redis yet; the caller must (`stamps`), before it answers."""

    user: Any
    entry: Entry | None
    verified: bool


def lookup(user_id: int, load_user: Callable[[], Any], *, deferred: bool = False) -> Found:
    """The user, from this process's entry when it is still valid, else loaded.

    Checking costs one Redis round trip (an HMGET). With `deferred`, an entry
    is returned unchecked, for a caller that checks its `stamps` in a round
    trip it makes anyway (the tenant-scoped views, in their rate-limit script)
    and starts over (`forget`) when they changed.
    """
    if not enabled():
        return Found(load_user(), None, True)
    now = time.monotonic()
    if deferred:
        with _lock:
            entry = _entries.get(user_id)
        if entry is not None and now - entry.born <= settings.ACCESS_CACHE_SECONDS:
            return Found(_copy(entry.user), entry, False)
    stamp = current_stamp(user_id)
    if stamp is None:
        return Found(load_user(), None, True)
    with _lock:
        entry = _entries.get(user_id)
        if entry is not None and (
            entry.stamp != stamp or now - entry.born > settings.ACCESS_CACHE_SECONDS
        ):
            entry = None
        if entry is not None:
            _entries.move_to_end(user_id)
    if entry is None:
        entry = Entry(stamp=stamp, user=load_user(), born=now)  # after the stamp: see above
        with _lock:
            _entries[user_id] = entry
            while len(_entries) > MAX_USERS:
                _entries.popitem(last=False)
    return Found(_copy(entry.user), entry, True)


def _copy(instance: Any) -> Any:
    """The request's own copy of a cached model instance (its attributes and a
    fresh model state; copy.copy of a model instance cost ~2% of a single POST),
    so nothing a request does to it reaches the cache."""
    clone = object.__new__(type(instance))
    clone.__dict__.update(instance.__dict__)
    clone._state = copy.copy(instance._state)
    clone._state.fields_cache = {}
    return clone


def stamps(user_id: int, entry: Entry) -> list[tuple[str, str, bytes]]:
    """The Redis hash fields and values `entry` is valid under (for ratelimits.refusal)."""
    key = hash_key()
    return [(key, EPOCH, entry.stamp.epoch), (key, str(user_id), entry.stamp.generation)]


def forget(user_id: int | None) -> None:
    """Drop this process's entry of the user (it turned out stale)."""
    if user_id is None:
        return
    with _lock:
        _entries.pop(user_id, None)


def tenant_access(
    entry: Entry | None,
    tenant_id: str | None,
    include_inactive: bool,
    resolve: Callable[[], TenantAccess],
) -> TenantAccess:
    """The entry's access to `tenant_id` (None: the implicit one), resolved once."""
    if entry is None:
        return resolve()
    key = (tenant_id or "", include_inactive)
    access = entry.accesses.get(key)
    if access is None:
        access = resolve()  # raises when refused: refusals are not cached
        entry.accesses[key] = access
    return dataclasses.replace(access, tenant=_copy(access.tenant))


def invalidate(user_ids: Iterable[int]) -> None:
    """After COMMIT of a change to these users' access: drop this process's
    entries and bump their generations, so every other process misses too."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    with _lock:
        for user_id in ids:
            _entries.pop(user_id, None)
    client = ratelimits.redis_client()
    try:
        pipe = client.pipeline(transaction=False)
        for user_id in ids:
            pipe.hincrby(hash_key(), str(user_id), 1)
        pipe.execute()
    except RedisError as exc:
        logger.error(
            "access cache: %d user(s) not invalidated in other processes (%s); their "
            "entries there expire within ACCESS_CACHE_SECONDS",
            len(ids),
            exc,
        )


def on_access_changed(sender, user_id: int | None, tenant_id: str | None, **kwargs) -> None:
    """Receiver of auditlog_project.access.ACCESS_CHANGED (after COMMIT)."""
    if user_id is not None:
        invalidate([user_id])
        return
    from django.contrib.auth import get_user_model

    from .models import Membership

    # Everyone who may have an entry for the tenant: its members, and the
    # platform administrators, who reach every tenant without a membership.
    members = Membership.objects.filter(tenant_id=tenant_id).values_list("user_id", flat=True)
    admins = get_user_model().objects.filter(is_superuser=True).values_list("pk", flat=True)
    invalidate([*members, *admins])


def on_access_changing(sender, user_id: int | None, **kwargs) -> None:
    """Receiver of ACCESS_CHANGING (at once, before COMMIT): this process forgets
    the user's entry (every entry, for a change to a whole tenant)."""
    with _lock:
        if user_id is None:
            _entries.clear()
        else:
            _entries.pop(user_id, None)


def clear() -> None:
    """Forget every entry of this process (tests)."""
    with _lock:
        _entries.clear()
