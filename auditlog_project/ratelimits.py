"""Fixed-window rate limits on Redis (django-ratelimit's counters), as DRF errors.

Used for login brute-force protection (per username and per IP) and for API
limits per principal and per tenant. A limit answers 429 with Retry-After set
to the seconds left in the current window.
"""

from __future__ import annotations

import functools
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)


def _usage(request, group: str, value: str, rate: str, *, increment: bool) -> dict | None:
    return get_usage(
        request,
        group=group,
        key=lambda _group, _request: value,
        rate=rate,
        method=ALL,
        increment=increment,
    )


def count(request, group: str, value: str, rate: str) -> None:
    """Count one hit without refusing this request (e.g. a failed login)."""
    _usage(request, group, value, rate, increment=True)


def check(request, group: str, value: str, rate: str) -> None:
    """Raise Throttled (429) when `rate` is used up for `value` in `group`; counts nothing.

    If the cache fails, django-ratelimit reports the limit as reached (fail closed).
    """
    usage = _usage(request, group, value, rate, increment=False)
    if usage is not None and usage["count"] >= usage["limit"]:
        raise Throttled(wait=max(1, usage["time_left"]))


def client_ip(request) -> str:
    """The client address: REMOTE_ADDR, or the first proxy hop when configured.

    Behind the load balancer, NUM_PROXIES=1 takes the address the ALB appended.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.NUM_PROXIES and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= settings.NUM_PROXIES:
            return hops[-settings.NUM_PROXIES]
    return request.META.get("REMOTE_ADDR", "")


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """`100/m` -> (100, 60); `1000/5m` -> (1000, 300)."""
    count, per = rate.split("/")
    return int(count), int(per[:-1] or 1) * _PERIODS[per[-1]]


def enforce(limits: list[tuple[str, str]]) -> None:
    """Count one hit against every (key, rate) in ONE Redis round trip; 429 past any.

    Fixed windows aligned to the epoch; Retry-After is what is left of the
    window that ran out. This sits on every API request, so it is one
    pipelined INCR + EXPIRE per limit instead of a cache read-modify-write.
    If Redis is unreachable the request is let through (and logged): refusing
    audit events because the limiter is down would lose more than it protects.
    """
    now = int(time.time())
    windows = []
    pipe = _redis().pipeline(transaction=False)
    for key, rate in limits:
        limit, period = parse_rate(rate)
        window_key = f"{settings.CACHES['default']['KEY_PREFIX']}:rl:{key}:{now // period}"
        pipe.incr(window_key)
        pipe.expire(window_key, period + 1, nx=True)
        windows.append((limit, period))
    try:
        replies = pipe.execute()
    except RedisError:
        logger.warning("rate limiter unavailable; request allowed", exc_info=True)
        return
    for (limit, period), hits in zip(windows, replies[::2], strict=True):
        if hits > limit:
            raise Throttled(wait=period - now % period)


@functools.cache
def _redis():
    """One client per process: Django's cache builds a new client object on every
    call, which costs more than the round trip itself (the pool is shared anyway)."""
    return cache._cache.get_client(write=True)


def principal_key(request) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return f"ip:{client_ip(request)}"
    return f"user:{user.pk}"


class PrincipalRateThrottle(BaseThrottle):
    """API rate limit per authenticated principal (RATE_LIMIT_PER_USER).

    Tenant-scoped endpoints do not use it: they count the principal and the
    tenant together once the tenant is known (tenants.scoping), in one trip.
    """

    def allow_request(self, request, view) -> bool:
        enforce([(principal_key(request), settings.RATE_LIMIT_PER_USER)])
        return True
