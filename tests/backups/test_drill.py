"""The recovery drill: back up, destroy the database, restore, and prove nothing changed.

The drill runs on a database of its own (fixture `drill_database`), seeded
through the API, and ends with the same rows per tenant (counts and a content
hash computed here, independently of the code under test, by SQL in primary-key
order), the same API answers, and the same security: row-level security in
force, the application role's grants, no function opened to PUBLIC.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connections

from accounts.models import User
from backups import pg, selectors, services
from backups.errors import BackupError
from tenants.models import Membership, Tenant
from tests.fixtures import bearer_client, make_user

TENANTS = ["drill-a", "drill-b", "drill-c"]
EVENTS_PER_TENANT = {"drill-a": 120, "drill-b": 60, "drill-c": 1}


def seed(tenant: str, count: int) -> User:
    """A tenant, its admin, and `count` varied events stored through the bulk endpoint."""
    Tenant.objects.create(id=tenant, name=f"Tenant {tenant}")
    admin = make_user(f"admin-{tenant}")
    Membership.objects.create(user=admin, tenant_id=tenant, role="admin")
    now = datetime.now(UTC)
    events = [
        {
            "id": str(uuid.uuid4()),
            "tenant_id": tenant,
            "timestamp": (now - timedelta(hours=i % 30, seconds=i)).isoformat(),
            "user_id": f"user-{i % 7}",
            "action": ("login", "update", "delete")[i % 3],
            "resource_type": "document",
            "resource_id": f"doc-{i}",
            "severity": ("info", "warning", "critical")[i % 3],
            "ip_address": f"10.0.{i % 250}.{i % 200 + 1}",
            "message": f'Änderung №{i} by {tenant} — "quoted", tab\tend',
            "before": {"title": f"v{i}", "tags": ["a", i]},
            "after": {"title": f"v{i + 1}", "nested": {"n": i / 3}},
            "metadata": {"trace": uuid.uuid4().hex},
        }
        for i in range(count)
    ]
    response = bearer_client(admin).post(
        "/api/v1/logs/bulk", {"tenant_id": tenant, "events": events}, format="json"
    )
    assert response.status_code == 201, response.content
    return admin


def tenant_contents(database: str) -> dict[str, tuple[int, str, int, int]]:
    """Per tenant: events, an MD5 over their rows in primary-key order,
    idempotency keys, and the application events among the rows (the rest are
    the service's own admin and access events); read as the owner, one tenant
    at a time under RLS."""
    contents = {}
    with services.restore_target(database).connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")
        tenants = [row[0] for row in conn.execute("SELECT id FROM tenants_tenant ORDER BY id")]
        for tenant in tenants:
            conn.execute("SELECT set_config('app.tenant_id', %s, false)", [tenant])
            count, digest, applications = conn.execute(
                "SELECT count(*), md5(string_agg(e::text, '|' ORDER BY e.tenant_id, e.id, "
                "e.timestamp)), count(*) FILTER (WHERE e.category = 'application') "
                "FROM logs_event e"
            ).fetchone()
            keys = conn.execute("SELECT count(*) FROM logs_event_key").fetchone()[0]
            contents[tenant] = (count, digest, keys, applications)
    return contents


def api_answers(admins: dict[str, User]) -> dict[str, object]:
    answers = {}
    for tenant, admin in admins.items():
        client = bearer_client(admin)
        # Application events: each read adds its own access event to the tenant.
        listed = client.get(f"/api/v1/logs?tenant_id={tenant}&category=application&page_size=1000")
        assert listed.status_code == 200, listed.content
        first = listed.json()["results"][0]["id"]
        one = client.get(f"/api/v1/logs/{first}?tenant_id={tenant}")
        answers[tenant] = (listed.json(), one.status_code, one.json())
    return answers


def security_state(database: str, app_role: str) -> dict[str, object]:
    with services.restore_target(database).connect() as conn:
        forced = conn.execute(
            "SELECT relname FROM pg_class WHERE relforcerowsecurity ORDER BY relname"
        ).fetchall()
        public_functions = conn.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'auditlog%%' "
            "AND has_function_privilege(%s, oid, 'EXECUTE') ORDER BY proname",
            [services.source_database().user],  # a role granted nothing: PUBLIC's rights
        ).fetchall()
    as_app = dataclasses.replace(services.restore_target(database), user=app_role)
    with as_app.connect() as conn:
        unscoped = conn.execute("SELECT count(*) FROM logs_event").fetchone()[0]
    return {"forced": forced, "public_functions": public_functions, "unscoped": unscoped}


@pytest.mark.usefixtures("backup_prefix")
def test_backup_destroy_restore_gives_back_every_row_and_the_same_answers(drill_database, app_role):
    admins = {tenant: seed(tenant, EVENTS_PER_TENANT[tenant]) for tenant in TENANTS}
    answers_before = api_answers(admins)
    before = tenant_contents(drill_database.name)  # with the reads' access events
    security_before = security_state(drill_database.name, app_role)
    assert {tenant: entry[3] for tenant, entry in before.items()} == EVENTS_PER_TENANT
    assert security_before["forced"] and security_before["unscoped"] == 0

    call_command("backup", "--database", drill_database.name, "--id", "drill")
    manifest = selectors.backup_manifest("drill")
    assert manifest["events_per_tenant"] == {tenant: entry[0] for tenant, entry in before.items()}
    assert manifest["tables"]["tenants_tenant"]["*"]["rows"] == len(TENANTS)
    assert "0001_initial" in manifest["migrations"]["logs"]

    connections["default"].close()
    pg.database_drop(drill_database)
    assert not pg.database_exists(drill_database)
    with pytest.raises(BackupError, match="does not exist"):
        drill_database.connect().close()

    call_command("restore", "drill", "--target", drill_database.name)

    assert tenant_contents(drill_database.name) == before
    assert api_answers(admins) == answers_before
    assert security_state(drill_database.name, app_role) == security_before
    # The application role writes again (its grants came back).
    response = bearer_client(admins["drill-c"]).post(
        "/api/v1/logs",
        {"tenant_id": "drill-c", "user_id": "u", "action": "login", "resource_type": "session"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert tenant_contents(drill_database.name)["drill-c"][3] == 2
