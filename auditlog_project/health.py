"""Liveness (/healthz) and readiness (/readyz) probes for the load balancer."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import connection, transaction
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from .queues import queue_ready
from .ratelimits import redis_client


def _postgresql() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    """The Redis of REDIS_URL (limits, stream, cache) answers PING within 0.5 s."""
    if not redis_client().ping():
        raise RuntimeError("PING failed")


CHECKS: dict[str, Callable[[], dict | None]] = {
    "postgresql": _postgresql,
    "redis": _redis,
    "queue": queue_ready,
}


def _run(check: Callable[[], dict | None]) -> dict:
    """{"status": "up", "latency_ms", ...what the check reports} or "down" with the error."""
    started = time.perf_counter()
    try:
        detail = check() or {}
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    latency = round((time.perf_counter() - started) * 1000, 1)
    return {"status": "up", "latency_ms": latency, **detail}


@transaction.non_atomic_requests
@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@transaction.non_atomic_requests
@require_GET
def readyz(request) -> JsonResponse:
    results = {name: _run(check) for name, check in CHECKS.items()}
    ready = all(result["status"] == "up" for result in results.values())
    body: dict[str, object] = {"status": "ready" if ready else "unavailable", "checks": results}
    body["pipeline"] = _pipeline_detail() if results["postgresql"]["status"] == "up" else None
    return JsonResponse(body, status=200 if ready else 503)


def _pipeline_detail() -> dict:
    """Detail, not a check: a lagging consumer does not make this instance unready."""
    from pipeline.selectors import summary

    try:
        return summary()
    except Exception as exc:  # noqa: BLE001 - detail only
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
