"""Search shapes: each over HTTP, and the same SQL run directly (the ceiling).

The direct figure is the time PostgreSQL and the driver take for the queries
the endpoint issues (captured around the selector, with the same tenant set
for row-level security), so HTTP minus direct is the framework's share.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.db import connection, transaction

import load
from data import RESOURCES_PER_TYPE, USERS_PER_TENANT, WORDS

DEEP_PAGES = 20


def shapes(now: datetime) -> list[tuple[str, callable]]:
    day, week = (now - timedelta(days=1)).isoformat(), (now - timedelta(days=7)).isoformat()

    def user(rng, tenant):
        return f"user-{rng.randrange(USERS_PER_TENANT):03d}@{tenant}.example"

    return [
        ("tenant + last 24 h", lambda rng, t: {"start_time": day}),
        ("+ user_id (7 days)", lambda rng, t: {"start_time": week, "user_id": user(rng, t)}),
        (
            "+ action, severity (7 days)",
            lambda rng, t: {
                "start_time": week,
                "action": "DELETE,UPDATE",
                "severity": "ERROR,CRITICAL",
            },
        ),
        (
            "+ resource type and id",
            lambda rng, t: {
                "resource_type": "document",
                "resource_id": f"document-{rng.randrange(RESOURCES_PER_TYPE)}",
            },
        ),
        ("full text q (one word)", lambda rng, t: {"q": rng.choice(WORDS)}),
        ("full text q + 24 h", lambda rng, t: {"q": rng.choice(WORDS), "start_time": day}),
    ]


def direct_ms(tenant: str, params: dict) -> float:
    """Milliseconds spent executing the endpoint's own SQL, run in process."""
    from logs import selectors
    from logs.models import Event
    from tenants.scoping import activate

    spent = [0.0]

    def timer(execute, sql, params_, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params_, many, context)
        finally:
            spent[0] += time.perf_counter() - started

    with transaction.atomic():
        activate(tenant)
        with connection.execute_wrapper(timer):
            selectors.event_list(scope=Event.objects.filter(tenant_id=tenant), params=params)
    return spent[0] * 1000


def run(port: int, token: str, tenants: list[str], requests: int) -> list[dict]:
    rng = random.Random(7)
    client = load.Client(port, token)
    busiest = tenants[:10]
    now = datetime.now(UTC)
    rows = []
    for name, make in shapes(now):
        http, direct, hits = [], [], []
        for i in range(requests):
            tenant = busiest[i % len(busiest)]
            params = {"tenant_id": tenant, **make(rng, tenant)}
            elapsed, body = client.timed_get("/api/v1/logs?" + urlencode(params))
            http.append(elapsed)
            hits.append(len(body["results"]))
            direct.append(direct_ms(tenant, params))
        rows.append(_row(name, http, direct, hits))
    rows.append(_deep_pages(client, busiest, max(1, requests // DEEP_PAGES)))
    return rows


def _deep_pages(client: load.Client, tenants: list[str], walks: int) -> dict:
    """Follow `next` DEEP_PAGES times from the newest events; time pages 2..N."""
    http, direct, hits = [], [], []
    for i in range(walks):
        tenant = tenants[i % len(tenants)]
        _, body = client.timed_get("/api/v1/logs?" + urlencode({"tenant_id": tenant}))
        for _ in range(DEEP_PAGES - 1):
            if not body["next"]:
                break
            url = body["next"]
            elapsed, body = client.timed_get(load.path_of(url))
            http.append(elapsed)
            hits.append(len(body["results"]))
            direct.append(direct_ms(tenant, dict(parse_qsl(urlsplit(url).query))))
    return _row(f"deep pages 2-{DEEP_PAGES} via cursor", http, direct, hits)


def _row(name: str, http: list[float], direct: list[float], hits: list[int]) -> dict:
    return {
        "shape": name,
        "http": load.summarize(http),
        "direct": load.summarize(direct),
        "mean_rows": sum(hits) / len(hits) if hits else 0,
    }
