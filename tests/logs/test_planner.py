"""Planner statistics: the beat task ANALYZEs today's partition when it grew enough,
and a process warns once when PostgreSQL runs with autovacuum off."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from django.db import connection

from logs import planner
from logs.tasks import analyze_hot_partition
from tests.pipeline.test_drain_helpers import ingest_in_test_transaction

pytestmark = pytest.mark.django_db(transaction=True)


def last_analyzed(day: date):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
            "WHERE relname = %s",
            [planner.partition_name(day)],
        )
        return cursor.fetchone()[0]


def wait_for_counted_changes(name: str, at_least: int) -> None:
    """Table statistics reach the shared counters at transaction end, give or take."""
    import time

    for _ in range(50):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(planner.CHANGED_SQL, [name])
            found = cursor.fetchone()
        if found and found[0] >= at_least:
            return
        time.sleep(0.1)


@pytest.fixture
def tenant():
    from tenants.models import Tenant

    return Tenant.objects.create(id="tenant-a", name="A")


def test_the_rule_is_min_rows_or_a_tenth():
    assert planner.needs_analyze(changed=500, rows=0, min_rows=500)
    assert not planner.needs_analyze(changed=499, rows=0, min_rows=500)
    assert not planner.needs_analyze(changed=900, rows=10_000, min_rows=500)
    assert planner.needs_analyze(changed=1_000, rows=10_000, min_rows=500)


def test_yesterday_is_hot_only_in_the_first_hour():
    assert planner.hot_days(datetime(2026, 12, 1, 0, 30, tzinfo=UTC)) == [
        date(2026, 11, 30),
        date(2026, 12, 1),
    ]
    assert planner.hot_days(datetime(2026, 12, 1, 1, 0, tzinfo=UTC)) == [date(2026, 12, 1)]


def fresh_statistics(today: date) -> None:
    """Start from a just-analyzed partition (earlier tests committed rows today)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT auditlog_analyze_partition(%s)", [today])


def test_the_task_analyzes_today_only_once_it_grew(tenant, settings):
    today = datetime.now(UTC).date()
    fresh_statistics(today)
    settings.EVENTS_ANALYZE_MIN_ROWS = 30
    ingest_in_test_transaction("tenant-a", 10)
    wait_for_counted_changes(planner.partition_name(today), 10)
    before = last_analyzed(today)
    assert analyze_hot_partition.run() == []  # 10 changed rows: not enough
    assert last_analyzed(today) == before
    ingest_in_test_transaction("tenant-a", 25)
    wait_for_counted_changes(planner.partition_name(today), 35)
    assert analyze_hot_partition.run() == [planner.partition_name(today)]
    assert last_analyzed(today) is not None and last_analyzed(today) != before
    assert analyze_hot_partition.run() == []  # a duplicate delivery does nothing


def test_a_process_warns_once_when_autovacuum_is_off(monkeypatch, caplog):
    """wsgi.py and the Celery worker call this at start-up."""
    monkeypatch.setattr(planner, "_checked", type(planner._checked)())
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('autovacuum')")
        setting = cursor.fetchone()[0]
    with caplog.at_level(logging.WARNING, logger="logs.planner"):
        planner.warn_if_autovacuum_off()
        planner.warn_if_autovacuum_off()
    warnings = [r for r in caplog.records if "autovacuum" in r.getMessage()]
    assert len(warnings) == (1 if setting != "on" else 0)
    if setting != "on":
        assert "logs.analyze_hot_partition" in warnings[0].getMessage()


def test_a_busy_tenant_new_since_the_last_analyze_triggers_it(tenant, settings):
    from tenants.models import Tenant

    Tenant.objects.create(id="tenant-b", name="B")
    today = datetime.now(UTC).date()
    fresh_statistics(today)
    settings.EVENTS_ANALYZE_MIN_ROWS = 20
    ingest_in_test_transaction("tenant-a", 300)
    wait_for_counted_changes(planner.partition_name(today), 300)
    assert analyze_hot_partition.run() == [planner.partition_name(today)]
    # fewer than 10 % of the partition changed, and tenant-a was seen: nothing
    ingest_in_test_transaction("tenant-a", 25)
    with connection.cursor() as cursor:
        assert planner.unknown_busy_tenants(cursor, today, 20) == set()
    assert analyze_hot_partition.run() == []
    # a tenant new since the last ANALYZE with enough events: ANALYZE now
    ingest_in_test_transaction("tenant-b", 20)
    with connection.cursor() as cursor:
        assert planner.unknown_busy_tenants(cursor, today, 20) == {"tenant-b"}
    assert analyze_hot_partition.run() == [planner.partition_name(today)]
    with connection.cursor() as cursor:
        assert planner.unknown_busy_tenants(cursor, today, 20) == set()
