"""Fixed-window rate limits on Redis (django-ratelimit's counters), as DRF errors.

Used for login brute-force protection (per username and per IP) and for API
limits per principal and per tenant. A limit answers 429 with Retry-After set
to the seconds left in the current window.
"""

from __future__ import annotations

from django.conf import settings
from django_ratelimit import ALL
from django_ratelimit.core import get_usage
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle


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


def check(request, group: str, value: str, rate: str, *, increment: bool = True) -> None:
    """Count one hit for `value` in `group` (or only look, with increment=False);
    raise Throttled (429) once `rate` is used up."""
    usage = _usage(request, group, value, rate, increment=increment)
    # Without incrementing, the limit is reached once the count equals it.
    exhausted = usage and (
        usage["should_limit"] or (not increment and usage["count"] >= usage["limit"])
    )
    if exhausted:
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


class PrincipalRateThrottle(BaseThrottle):
    """API rate limit per authenticated principal (RATE_LIMIT_PER_USER)."""

    def allow_request(self, request, view) -> bool:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            key = f"ip:{client_ip(request)}"
        else:
            key = f"user:{user.pk}"
        check(request, "api-principal", key, settings.RATE_LIMIT_PER_USER)
        return True
