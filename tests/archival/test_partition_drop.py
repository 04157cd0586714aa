"""Whole daily partitions dropped once every row is past retention and archived.

Daily partitions exist only from the history partition's floor on (the day
before the test database was migrated), so `old_days` lowers the floor for the
test (as the owner: history detached and attached again with an earlier
bound), creates daily partitions for the 20 days before today, and puts
everything back after the flush. Every tenant's retention is 5 days, so the
accepted window is 5 days and days older than that are candidates.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from psycopg import sql

from archival.choices import ArchiveState
from archival.models import ArchivedDay
from archival.retention import dropping
from logs import partitions
from tenants.models import Tenant
from tenants.scoping import activate
from tests.archival.helpers import day_start, days_ago, dirty_hours, insert_events, key_count
from tests.logs.test_partitions import partition_exists, raw_connection

HISTORY = "logs_event_history"
DAY = days_ago(10)


def _attach_history(owner, floor) -> None:
    """History again, as the range below `floor` (DDL takes no parameters: a literal)."""
    attached = owner.execute(
        "SELECT relispartition FROM pg_class WHERE relname = %s", [HISTORY]
    ).fetchone()[0]
    if attached:
        owner.execute(f"ALTER TABLE logs_event DETACH PARTITION {HISTORY}")
    owner.execute(
        sql.SQL(
            "ALTER TABLE logs_event ATTACH PARTITION {} FOR VALUES FROM (MINVALUE) TO ({})"
        ).format(sql.Identifier(HISTORY), sql.Literal(day_start(floor).isoformat()))
    )


@pytest.fixture
def old_days(django_db_setup):
    with raw_connection(owner=True) as owner:
        owner.execute("SET lock_timeout = '10s'")
        floor = owner.execute("SELECT auditlog_partition_floor()").fetchone()[0] or days_ago(1)
        _attach_history(owner, days_ago(20))
    yield
    with raw_connection(owner=True) as owner:
        owner.execute("SET lock_timeout = '10s'")
        for n in range(20, 0, -1):
            if days_ago(n) < floor:
                name = f"logs_event_p{days_ago(n):%Y%m%d}"
                owner.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
        _attach_history(owner, floor)


@pytest.fixture
def tenants(parties):
    Tenant.objects.update(retention_days=5, archive_before_delete=True)
    partitions.partitions_ensure(days_ago(n) for n in range(20, 0, -1))
    return parties


pytestmark = [pytest.mark.usefixtures("old_days", "transactional_db")]


def archived(tenant_id: str, day, rows: int) -> None:
    with transaction.atomic():
        activate(tenant_id)
        ArchivedDay.objects.create(
            tenant_id=tenant_id, day=day, state=ArchiveState.VERIFIED, row_count=rows
        )


def clear_dirty_hours(tenant_id: str) -> None:
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM logs_event_rollup_dirty WHERE tenant_id = %s", [tenant_id])


def test_a_day_of_expired_archived_rows_is_dropped_with_its_keys_and_rollup_marks(tenants):
    insert_events("tenant-a", DAY, 30)
    insert_events("tenant-b", DAY, 20)
    archived("tenant-a", DAY, 30)
    Tenant.objects.filter(id="tenant-b").update(archive_before_delete=False)
    for tenant_id in ("tenant-a", "tenant-b"):
        clear_dirty_hours(tenant_id)
    report = dropping.partitions_drop_expired()
    assert DAY in report.dropped
    assert not partition_exists(DAY)
    assert report.rows == 50
    assert key_count("tenant-a") == 0 and key_count("tenant-b") == 0
    for tenant_id, n in (("tenant-a", 30), ("tenant-b", 20)):  # as insert_events spreads them
        hours = {day_start(DAY) + timedelta(hours=i * 86399 // n // 3600) for i in range(n)}
        assert dirty_hours(tenant_id) == hours
    assert partition_exists(days_ago(5))  # inside the window: kept


def test_an_unexpired_row_of_another_tenant_keeps_the_day(tenants):
    # Events older than EVENTS_MAX_AGE_DAYS but younger than the tenant's retention
    # (a raised retention, a restore): the window alone must not decide.
    Tenant.objects.filter(id="tenant-b").update(retention_days=30)
    insert_events("tenant-a", DAY, 30)
    archived("tenant-a", DAY, 30)
    insert_events("tenant-b", DAY, 1)
    report = dropping.partitions_drop_expired(max_age_days=5)
    assert DAY not in report.dropped
    assert report.kept[DAY] == "tenant tenant-b: not past its retention"
    assert partition_exists(DAY)
    assert key_count("tenant-a") == 30 and key_count("tenant-b") == 1


@pytest.mark.parametrize("rows", [None, 29], ids=["not-archived", "archive-count-differs"])
def test_rows_without_a_matching_verified_archive_keep_the_day(tenants, rows):
    insert_events("tenant-a", DAY, 30)
    if rows is not None:
        archived("tenant-a", DAY, rows)
    report = dropping.partitions_drop_expired()
    assert report.kept[DAY] == "tenant tenant-a: not archived and verified"
    assert partition_exists(DAY) and key_count("tenant-a") == 30


def test_empty_expired_days_are_dropped_once_and_never_made_again(tenants, settings):
    report = dropping.partitions_drop_expired()
    assert report.dropped == [days_ago(n) for n in range(20, 5, -1)]
    assert partition_exists(days_ago(5))
    assert dropping.partitions_drop_expired().dropped == []  # a re-run finds nothing
    partitions.partitions_create_ahead(ahead=7, max_age_days=settings.EVENTS_MAX_AGE_DAYS)
    assert not partition_exists(days_ago(6)) and partition_exists(days_ago(5))


def test_a_busy_events_table_is_retried_then_left_to_the_next_run(tenants, monkeypatch):
    monkeypatch.setattr(dropping, "ATTEMPTS", 2)
    with raw_connection() as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM logs_event")  # an open reader: ACCESS SHARE
        report = dropping.partitions_drop_expired()
        reader.execute("ROLLBACK")
    assert report.dropped == [] and days_ago(10) in report.busy
    assert partition_exists(DAY)
    assert dropping.partitions_drop_expired().dropped  # the next run drops them


def test_only_the_application_role_may_call_the_function(tenants):
    signature = "auditlog_drop_partition(date, integer)"
    with raw_connection(owner=True) as owner:
        acl, definer = owner.execute(
            "SELECT proacl::text[], prosecdef FROM pg_proc WHERE oid = %s::regprocedure",
            [signature],
        ).fetchone()
        app = connection.settings_dict["USER"]
        assert definer
        assert not any(entry.startswith("=") for entry in acl)  # nothing for PUBLIC
        assert owner.execute(
            "SELECT has_function_privilege(%s, %s, 'EXECUTE')", [app, signature]
        ).fetchone()[0]


def test_the_command_and_the_beat_task_drop_and_say_what_they_kept(tenants, settings):
    from io import StringIO

    from django.core.management import call_command

    from archival.tasks import partitions_drop_expired

    insert_events("tenant-a", DAY, 3)  # not archived: kept
    out = StringIO()
    call_command("partitions_drop", stdout=out)
    assert f"kept {DAY}: tenant tenant-a: not archived and verified" in out.getvalue()
    assert "dropped 14 partition(s), 0 event(s)" in out.getvalue()
    archived("tenant-a", DAY, 3)
    assert partitions_drop_expired() == 1
    assert not partition_exists(DAY)
    beat = settings.CELERY_BEAT_SCHEDULE["archival-partitions-drop"]
    assert beat["task"] == "archival.partitions_drop_expired"
