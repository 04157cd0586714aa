"""One tenant's writes never make another tenant's reads or writes wait (issue 9).

"Does not wait" is shown without clocks: the other tenant's request runs on a
second connection with `lock_timeout` set, while the first transaction is held
open; a lock it would have to wait for makes it fail at once. Only the public
API is used, so the same tests ran red against the code that created
partitions inside the request (they failed with lock timeouts there).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from tenants.models import Tenant

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_TIMEOUT = "100ms"


def other_connection(work):
    """Run `work()` in a thread, hence on a second database connection that gives
    up on any lock after LOCK_TIMEOUT; its result (or exception) is returned."""
    outcome: dict = {}

    def run() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                cursor.execute("SET statement_timeout = '10s'")
            outcome["value"] = work()
        except Exception as exc:  # noqa: BLE001 (handed back to the test, re-raised there)
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the other connection did not finish"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def bulk(parties, admin: str, tenant: str, timestamps: list[datetime]):
    events = [
        {
            "id": str(uuid.uuid4()),
            "user_id": "u",
            "action": "login",
            "resource_type": "s",
            "timestamp": ts.isoformat(),
        }
        for ts in timestamps
    ]
    return parties.client(admin).post(
        "/api/v1/logs/bulk", {"tenant_id": tenant, "events": events}, format="json"
    )


def days_ago(days: float) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


@pytest.fixture
def long_retention(parties):
    """Both tenants keep events ten years, so a year-old event is within the window."""
    Tenant.objects.filter(id__in=["tenant-a", "tenant-b"]).update(retention_days=3650)
    return parties


@pytest.mark.parametrize(
    ("ages", "status"),
    [
        pytest.param([366, 380, 399.99], 201, id="over-a-year-back-to-the-window-edge"),
        pytest.param([1, 2, 3, 45, 120], 201, id="recent-days"),
        pytest.param([400.01, 500, 3000], 400, id="beyond-the-window"),
    ],
)
def test_a_past_dated_bulk_write_held_open_leaves_another_tenant_answering(
    long_retention, ages, status
):
    parties = long_retention
    with transaction.atomic():  # the writer's transaction stays open until the block ends
        written = bulk(parties, "a_admin", "tenant-a", [days_ago(d) for d in ages])
        assert written.status_code == status, written.json()

        listed = other_connection(
            lambda: parties.client("b_admin").get("/api/v1/logs", {"tenant_id": "tenant-b"})
        )
        assert listed.status_code == 200, listed.json()
        other_write = other_connection(
            lambda: bulk(parties, "b_admin", "tenant-b", [days_ago(d) for d in (0, 30, 367, 399)])
        )
        assert other_write.status_code == 201, other_write.json()
