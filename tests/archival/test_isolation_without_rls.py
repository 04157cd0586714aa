"""The archive's own tenant filters, proven alone: row-level security switched off.

Elsewhere both layers act at once (the archive's `WHERE tenant_id = ...` and
the scoped querysets, and PostgreSQL's policies), so a missing filter would be
hidden. Here the test's transaction, as the tables' owner, turns row-level
security off on the events, keys and archived-day tables.
"""

from __future__ import annotations

import pytest
from django.db import connection

from archival.archive import archive_tenant_day

from .conftest import day_events, read_part, seed, some_day

pytestmark = pytest.mark.usefixtures("as_table_owner")  # before the database is opened

TABLES = ("logs_event", "logs_event_key", "archival_archived_day")


@pytest.fixture
def rls_off(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 3))
    seed(parties, "tenant-b", day_events(day, 4, tenant_id="tenant-b", user_id="bob"))
    archive_tenant_day("tenant-b", day)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks on ALTER
        for table in TABLES:
            cursor.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")
        cursor.execute("SELECT count(*) FROM logs_event")
        assert cursor.fetchone()[0] == 7  # the switch worked: every tenant visible
    return day


def test_a_tenants_archive_holds_only_its_rows_without_row_level_security(
    parties, archive_bucket, rls_off
):
    record = archive_tenant_day("tenant-a", rls_off)
    assert record.row_count == 3
    rows = read_part(archive_bucket, record.parts[0]["key"])
    assert {row["tenant_id"] for row in rows} == {"tenant-a"}


def test_the_archive_list_shows_only_the_callers_tenant_without_row_level_security(
    parties, rls_off
):
    archive_tenant_day("tenant-a", rls_off)
    body = parties.client("a_admin").get("/api/v1/archives?tenant_id=tenant-a").json()
    assert [(d["tenant_id"], d["row_count"]) for d in body["results"]] == [("tenant-a", 3)]
    download = f"/api/v1/archives/{rls_off}/download?tenant_id=tenant-a"
    assert parties.client("a_admin").get(download).json()["parts"][0]["rows"] == 3
