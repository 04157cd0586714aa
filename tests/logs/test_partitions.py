"""Partitions ahead of every accepted event, and the window of accepted timestamps.

Partition creation commits on a connection of its own, so the days a test
creates would outlive it: `fresh_partitions` drops them afterwards (as the
owner), and every test starts from the migration's partitions in any order.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection
from psycopg import sql

from auditlog_project.settings.env import database_from_url
from logs import partitions
from tenants.models import Tenant
from tenants.scoping import activate
from tests.logs.test_partition_stalls import other_connection

WINDOW = django_settings.EVENTS_MAX_AGE_DAYS


def partition_exists(day: date) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"logs_event_p{day:%Y%m%d}"])
        return cursor.fetchone()[0]


def raw_connection(*, owner: bool = False) -> psycopg.Connection:
    """An autocommit psycopg connection to the test database, as the application
    role or the owner; transactions are spelled out (BEGIN, ROLLBACK)."""
    params = dict(connection.get_connection_params())
    if owner:
        params["user"] = database_from_url("DATABASE_URL", os.environ["DATABASE_URL"])["USER"]
    keep = ("dbname", "user", "password", "host", "port")
    return psycopg.connect(**{k: v for k, v in params.items() if k in keep and v}, autocommit=True)


def _daily(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT relname FROM pg_class WHERE relname ~ '^logs_event_p[0-9]{8}$'"
    ).fetchall()
    return {name for (name,) in rows}


@pytest.fixture
def fresh_partitions(django_db_setup):
    """Drop the daily partitions a transactional test created, as the owner, after
    its flush (so set up before `transactional_db`: `usefixtures` lists it first)."""
    with raw_connection(owner=True) as owner:
        before = _daily(owner)
    yield
    with raw_connection(owner=True) as owner:
        owner.execute("SET lock_timeout = '10s'")  # a deadline, not a wait forever
        for name in sorted(_daily(owner) - before):
            owner.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))


def post(parties, *, bulk: bool, timestamp: datetime, tenant: str = "tenant-a"):
    event = {
        "user_id": "u",
        "action": "login",
        "resource_type": "s",
        "timestamp": timestamp.isoformat(),
    }
    client = parties.client("a_admin" if tenant == "tenant-a" else "b_admin")
    if bulk:
        body = {"tenant_id": tenant, "events": [{"id": str(uuid.uuid4()), **event}]}
        return client.post("/api/v1/logs/bulk", body, format="json")
    return client.post("/api/v1/logs", {"tenant_id": tenant, **event}, format="json")


def retention(days: int) -> None:
    Tenant.objects.filter(id="tenant-a").update(retention_days=days)


# --- the window of accepted timestamps -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("bulk", [False, True], ids=["single", "bulk"])
@pytest.mark.parametrize(
    ("retention_days", "window_days"),
    [(3650, WINDOW), (30, 30)],
    ids=["EVENTS_MAX_AGE_DAYS", "tenant-retention"],
)
def test_the_oldest_accepted_timestamp_and_one_just_beyond(
    parties, bulk, retention_days, window_days
):
    retention(retention_days)
    edge = datetime.now(UTC) - timedelta(days=window_days)
    inside = post(parties, bulk=bulk, timestamp=edge + timedelta(minutes=1))
    assert inside.status_code == 201, inside.json()

    beyond = post(parties, bulk=bulk, timestamp=edge - timedelta(minutes=1))
    assert beyond.status_code == 400
    assert beyond["Content-Type"] == "application/problem+json"
    field = "events[0].timestamp" if bulk else "timestamp"
    [error] = beyond.json()["errors"]
    assert (error["field"], error["code"]) == (field, "too_old")
    assert f"{window_days} days in the past" in error["message"]


def dated_events(now: datetime, days_back) -> list[dict]:
    """One minimal event dated each of `days_back` days before `now`."""
    return [
        {
            "id": str(uuid.uuid4()),
            "user_id": "u",
            "action": "x",
            "resource_type": "s",
            "timestamp": (now - timedelta(days=days)).isoformat(),
        }
        for days in days_back
    ]


@pytest.mark.django_db
def test_a_bulk_with_one_event_beyond_the_window_stores_nothing(parties):
    retention(3650)
    now = datetime.now(UTC)
    events = dated_events(now, (1, WINDOW + 1, 2))
    response = parties.client("a_admin").post(
        "/api/v1/logs/bulk", {"tenant_id": "tenant-a", "events": events}, format="json"
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["events[1].timestamp"]
    listed = parties.client("a_admin").get("/api/v1/logs", {"tenant_id": "tenant-a"})
    assert listed.json()["results"] == []


def test_the_window_setting_is_bounded(monkeypatch):
    import importlib

    from auditlog_project.settings import base
    from auditlog_project.settings.env import ConfigError

    for name, value in (
        ("EVENTS_MAX_AGE_DAYS", "36501"),
        ("EVENTS_MAX_AGE_DAYS", "0"),
        ("EVENTS_PARTITIONS_BEHIND", str(WINDOW + 1)),
    ):
        with monkeypatch.context() as patched:
            patched.setenv(name, value)
            with pytest.raises(ConfigError, match=name):
                importlib.reload(base)
    importlib.reload(base)


@pytest.mark.django_db
def test_events_on_every_day_of_the_window_are_stored_and_readable(parties):
    retention(3650)
    now = datetime.now(UTC)
    stamps = [now - timedelta(days=days) for days in range(WINDOW)]
    stamps.append(now - timedelta(days=WINDOW) + timedelta(minutes=1))
    events = [
        {
            "id": str(uuid.uuid4()),
            "user_id": "u",
            "action": "x",
            "resource_type": "s",
            "timestamp": ts.isoformat(),
        }
        for ts in stamps
    ]
    admin = parties.client("a_admin")
    stored = admin.post(
        "/api/v1/logs/bulk", {"tenant_id": "tenant-a", "events": events}, format="json"
    )
    assert stored.status_code == 201, stored.json()
    assert stored.json()["created"] == WINDOW + 1

    listed = admin.get("/api/v1/logs", {"tenant_id": "tenant-a", "page_size": 1000}).json()
    assert {row["id"] for row in listed["results"]} == {e["id"] for e in events}
    assert listed["next"] is None
    activate("tenant-a")  # requests leave no tenant behind (tests/conftest.py)
    with connection.cursor() as cursor:
        cursor.execute("SELECT auditlog_partition_floor()")
        floor = cursor.fetchone()[0]
        cursor.execute(
            "SELECT tableoid::regclass::text, (\"timestamp\" AT TIME ZONE 'UTC')::date "
            "FROM logs_event WHERE tenant_id = 'tenant-a' AND category = 'application'"
        )
        placed = cursor.fetchall()
    assert len(placed) == WINDOW + 1
    for table, day in placed:
        expected = "logs_event_history" if day < floor else f"logs_event_p{day:%Y%m%d}"
        assert table == expected


# --- creating partitions ------------------------------------------------------------


@pytest.mark.usefixtures("fresh_partitions", "transactional_db")
def test_the_scheduled_task_creates_partitions_ahead_idempotently(settings):
    from logs import tasks

    settings.EVENTS_PARTITIONS_AHEAD = 12
    assert "logs.partitions_create_ahead" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    today = datetime.now(UTC).date()
    assert not partition_exists(today + timedelta(days=12))
    missing = [d for d in range(-1, 13) if not partition_exists(today + timedelta(days=d))]
    assert tasks.partitions_create_ahead.apply().get() == len(missing)
    for ahead in range(-1, 13):
        assert partition_exists(today + timedelta(days=ahead))
    assert tasks.partitions_create_ahead.apply().get() == 0  # SQS may deliver twice


@pytest.mark.usefixtures("fresh_partitions", "transactional_db")
def test_creating_a_partition_neither_waits_for_nor_blocks_other_tenants(parties):
    day = datetime.now(UTC).date() + timedelta(days=20)
    # A reader's transaction held open: creation must not wait for it (with a
    # DEFAULT partition it had to, for an ACCESS EXCLUSIVE lock on it).
    with raw_connection() as reader:
        reader.execute("SELECT set_config('app.tenant_id', 'tenant-b', false)")
        reader.execute("BEGIN")
        reader.execute('SELECT * FROM logs_event ORDER BY "timestamp" DESC LIMIT 50').fetchall()
        with raw_connection() as creator:
            assert partitions.partition_create(creator, day) == 1
        reader.execute("ROLLBACK")

    # The creator's transaction held open: other tenants' reads and writes go on.
    later = day + timedelta(days=1)
    with raw_connection() as creator:
        creator.execute("BEGIN")
        creator.execute("SELECT auditlog_ensure_partitions(%s, %s)", [later, later])
        listed = other_connection(
            lambda: parties.client("b_admin").get("/api/v1/logs", {"tenant_id": "tenant-b"})
        )
        assert listed.status_code == 200
        written = other_connection(
            lambda: post(parties, bulk=True, timestamp=datetime.now(UTC), tenant="tenant-b")
        )
        assert written.status_code == 201, written.json()
        creator.execute("ROLLBACK")


@pytest.mark.usefixtures("fresh_partitions", "transactional_db")
def test_busy_locks_are_retried_then_left_to_the_next_run(monkeypatch, caplog):
    day = datetime.now(UTC).date() + timedelta(days=8)  # the one missing day of ahead=8
    sleeps: list[float] = []
    monkeypatch.setattr(partitions.time, "sleep", sleeps.append)
    # Attaching clones the tenant foreign key: it needs SHARE ROW EXCLUSIVE on
    # tenants_tenant, which an open write to that table holds off.
    with raw_connection() as blocker:
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE tenants_tenant IN ROW EXCLUSIVE MODE")
        # Deadline: were the creator to wait without a lock timeout, the lock is
        # released after 10 s and the assertions below fail instead of hanging.
        watchdog = threading.Timer(10, blocker.execute, ["ROLLBACK"])
        watchdog.start()
        created = partitions.partitions_create_ahead(ahead=8, max_age_days=WINDOW)
        watchdog.cancel()
        blocker.execute("ROLLBACK")
    assert created == 0
    assert len(sleeps) == partitions.ATTEMPTS - 1  # one day tried ATTEMPTS times, then left
    assert not partition_exists(day)
    assert "left to the next run" in caplog.text

    def release_after_first_wait(seconds: float) -> None:
        blocker.execute("ROLLBACK")

    with raw_connection() as blocker:
        blocker.execute("BEGIN")
        blocker.execute("LOCK TABLE tenants_tenant IN ROW EXCLUSIVE MODE")
        monkeypatch.setattr(partitions.time, "sleep", release_after_first_wait)
        assert partitions.partitions_create_ahead(ahead=8, max_age_days=WINDOW) == 1
    assert partition_exists(day)


@pytest.mark.usefixtures("fresh_partitions", "transactional_db")
def test_every_migrate_creates_the_missing_partitions(settings):
    from django.apps import apps

    settings.EVENTS_PARTITIONS_AHEAD = 9
    day = datetime.now(UTC).date() + timedelta(days=9)
    assert not partition_exists(day)
    partitions.partitions_after_migrate(apps.get_app_config("logs"), using="default")
    assert partition_exists(day)
    partitions.partitions_after_migrate(apps.get_app_config("logs"), using="other")  # ignored


@pytest.mark.django_db(transaction=True)
def test_a_day_without_its_partition_answers_503_and_stores_nothing(parties):
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    name = f"logs_event_p{yesterday:%Y%m%d}"
    lo = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=UTC)
    with raw_connection(owner=True) as owner:
        owner.execute(f"ALTER TABLE logs_event DETACH PARTITION {name}")
        try:
            response = post(parties, bulk=True, timestamp=lo + timedelta(hours=12))
        finally:
            owner.execute(
                sql.SQL(
                    "ALTER TABLE logs_event ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})"
                ).format(sql.Identifier(name), sql.Literal(lo), sql.Literal(lo + timedelta(days=1)))
            )
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == "60"
    assert response.json()["type"].endswith("/storage-not-ready")
    listed = parties.client("a_admin").get("/api/v1/logs", {"tenant_id": "tenant-a"})
    assert listed.json()["results"] == []


@pytest.mark.django_db
def test_a_bulk_over_many_past_days_is_still_one_statement(parties):
    """Ingest needs no partition work: no DDL, no extra round trip (the old code
    sent one `auditlog_ensure_partitions` call per request with unseen days)."""
    from django.test.utils import CaptureQueriesContext

    retention(3650)
    now = datetime.now(UTC)
    events = dated_events(now, range(0, WINDOW, 13))
    with CaptureQueriesContext(connection) as queries:
        response = parties.client("a_admin").post(
            "/api/v1/logs/bulk", {"tenant_id": "tenant-a", "events": events}, format="json"
        )
    assert response.status_code == 201, response.json()
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if "partition" in sql.lower()]
    assert len([sql for sql in statements if "jsonb_to_recordset" in sql]) == 1
