"""Realistic, reproducible audit events for the benchmark.

Tenants have Zipf-like sizes (a few large, many small), actors and resources
repeat within a tenant, most events are INFO, and messages are built from a
small vocabulary so full-text queries hit a realistic share of rows.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timedelta

ACTIONS = [
    ("VIEW", 30), ("UPDATE", 15), ("LOGIN", 12), ("CREATE", 10), ("LOGOUT", 8),
    ("API_CALL", 7), ("DOWNLOAD", 6), ("DELETE", 4), ("SHARE", 3), ("EXPORT", 2),
    ("PERMISSION_CHANGE", 2), ("PASSWORD_RESET", 1),
]  # fmt: skip
RESOURCES = ["document", "invoice", "user", "project", "report", "api_key", "dataset", "folder"]
SEVERITIES = [("INFO", 85), ("WARNING", 10), ("ERROR", 4), ("CRITICAL", 1)]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "python-requests/2.32.3",
    "okhttp/4.12.0",
    "curl/8.8.0",
]
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "invoice",
    "payment",
    "refund",
    "customer",
    "account",
    "password",
    "token",
    "session",
    "budget",
    "forecast",
    "contract",
    "quarterly",
    "annual",
    "review",
    "approval",
    "escalation",
    "incident",
    "outage",
    "deploy",
    "release",
    "rollback",
    "migration",
    "backup",
    "restore",
    "archive",
    "compliance",
    "audit",
    "policy",
    "permission",
    "role",
    "admin",
]
USERS_PER_TENANT = 200
RESOURCES_PER_TYPE = 2000


def tenant_ids(count: int) -> list[str]:
    return [f"bench-{i:03d}" for i in range(count)]


def tenant_weights(count: int) -> list[float]:
    raw = [1 / (rank + 1) ** 0.9 for rank in range(count)]
    total = sum(raw)
    return [w / total for w in raw]


class EventFactory:
    """Makes events in the API's JSON shape; seeded, so every run sees the same data."""

    def __init__(self, seed: int, tenants: list[str], now: datetime, days: int = 30):
        self.rng = random.Random(seed)
        self.tenants = tenants
        self.weights = tenant_weights(len(tenants))
        self.now = now
        self.span = timedelta(days=days).total_seconds()
        self.actions, self.action_w = zip(*ACTIONS, strict=True)
        self.severities, self.severity_w = zip(*SEVERITIES, strict=True)

    def tenant(self) -> str:
        return self.rng.choices(self.tenants, self.weights)[0]

    def event(self, tenant_id: str, *, with_id: bool = True) -> dict:
        rng = self.rng
        action = rng.choices(self.actions, self.action_w)[0]
        resource_type = rng.choice(RESOURCES)
        words = " ".join(rng.choices(WORDS, k=rng.randint(4, 10)))
        event = {
            "tenant_id": tenant_id,
            "timestamp": (self.now - timedelta(seconds=rng.random() * self.span)).isoformat(),
            "user_id": f"user-{rng.randrange(USERS_PER_TENANT):03d}@{tenant_id}.example",
            "session_id": uuid.UUID(int=rng.getrandbits(128)).hex,
            "action": action,
            "resource_type": resource_type,
            "resource_id": f"{resource_type}-{rng.randrange(RESOURCES_PER_TYPE)}",
            "severity": rng.choices(self.severities, self.severity_w)[0],
            "ip_address": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "user_agent": rng.choice(AGENTS),
            "message": f"{action.lower()} {resource_type}: {words}",
            "metadata": {"source": rng.choice(["web", "api", "mobile"]), "tag": rng.choice(WORDS)},
            "request_id": uuid.UUID(int=rng.getrandbits(128)).hex[:16],
        }
        if action == "UPDATE":
            event["before"] = {"status": "draft", "amount": rng.randrange(10_000)}
            event["after"] = {"status": "approved", "amount": rng.randrange(10_000)}
        if with_id:
            event["id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        return event


COPY_COLUMNS = (
    "tenant_id", "id", "timestamp", "received_at", "user_id", "session_id", "action",
    "resource_type", "resource_id", "severity", "ip_address", "user_agent", "message",
    "before", "after", "metadata", "request_id",
)  # fmt: skip


def _text(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dict):
        value = json.dumps(value, separators=(",", ":"))
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_line(event: dict, received_at: str) -> str:
    """One line of PostgreSQL COPY text format for the events table."""
    values = {**event, "received_at": received_at}
    return "\t".join(_text(values.get(column)) for column in COPY_COLUMNS) + "\n"
