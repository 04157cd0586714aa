"""The `category` field: clients send `application` only; reads filter by category;
logs.audit writes the service's own `access` and `admin` events."""

from __future__ import annotations

import pytest
from django.db import ProgrammingError, connection, transaction

from encryption.rows import open_rows
from logs import audit
from logs.models import Event
from tenants.scoping import activate
from tests.logs.conftest import event_body

URL = "/api/v1/logs"


def categories(tenant_id: str = "tenant-a") -> list[tuple[str, str]]:
    with transaction.atomic():
        activate(tenant_id)
        return list(Event.objects.order_by("received_at").values_list("category", "action"))


def test_client_events_are_application_and_may_say_so(parties):
    client = parties.client("a_admin")
    assert client.post(URL, event_body(), format="json").json()["category"] == "application"
    sent = client.post(URL, event_body(category="application"), format="json")
    assert sent.status_code == 201, sent.json()
    assert sent.json()["category"] == "application"


@pytest.mark.parametrize("value", ["access", "admin", "APPLICATION", "", None, 1])
def test_clients_cannot_send_another_category(parties, value):
    response = parties.client("a_admin").post(URL, event_body(category=value), format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["field"] == "category"
    assert "recorded by the service" in error["message"]
    assert categories() == []


def test_a_bulk_item_with_another_category_refuses_the_batch(parties):
    body = {"events": [event_body(), event_body(category="admin")]}
    response = parties.client("a_admin").post(URL + "/bulk", body, format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["events[1].category"]
    assert categories() == []


def record_admin_change(tenant_id: str = "tenant-a", **extra) -> None:
    with transaction.atomic():
        audit.record_admin(
            tenant_id=tenant_id,
            actor="root",
            action="MEMBER_ADD",
            resource_type="membership",
            resource_id="ursula",
            after={"role": "user"},
            origin=audit.COMMAND,
            **extra,
        )


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("application", ["LOGIN"]),
        ("admin", ["MEMBER_ADD"]),
        ("ADMIN,application", ["LOGIN", "MEMBER_ADD"]),
        ("access", ["EXPORT"]),
    ],
)
def test_the_list_filters_by_category(parties, wanted, expected):
    client = parties.client("a_auditor")
    parties.client("a_admin").post(URL, event_body(), format="json")
    record_admin_change()
    assert client.get(URL + "/export", {"format": "json"}).status_code == 200
    page = client.get(URL, {"category": wanted, "ordering": "timestamp"})
    assert page.status_code == 200, page.json()
    assert [event["action"] for event in page.json()["results"]] == expected


@pytest.mark.parametrize("bad", ["audit", "access,nope", ""])
def test_a_bad_category_filter_is_400_naming_it(parties, bad):
    response = parties.client("a_auditor").get(URL, {"category": bad or ","})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["category"]


def test_admin_events_drop_secrets_and_restore_the_active_tenant(parties):
    with transaction.atomic():
        activate("tenant-b")
        audit.record_admin(
            tenant_id="tenant-a",
            actor="root",
            action="USER_PASSWORD_CHANGE",
            resource_type="user",
            resource_id="ursula",
            before={"password": "x", "is_active": True, "nested": {"api_token": "t"}},
            after={"Password_hash": "y", "is_active": True, "nested": {"ok": 1}},
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            assert cursor.fetchone()[0] == "tenant-b"
    with transaction.atomic():
        activate("tenant-a")
        columns = ("tenant_id", "id", "category", "before", "after", "user_id", "metadata")
        rows = list(Event.objects.values(*columns))
        open_rows(rows)  # before/after are encrypted at rest (encryption/)
    (event,) = [{k: v for k, v in row.items() if k not in ("tenant_id", "id")} for row in rows]
    assert event == {
        "category": "admin",
        "before": {"is_active": True, "nested": {}},
        "after": {"is_active": True, "nested": {"ok": 1}},
        "user_id": "root",
        "metadata": {"via": "api"},
    }
    assert categories("tenant-b") == []


def test_admin_events_drop_every_key_masking_names_a_secret(parties):
    """A key is judged as masking judges it (case, '-', '_', '.' ignored), so the
    admin trail drops what an event's masking would redact, and the broader parts."""
    secrets = ["apiKey", "X-Api-Key", "privateKey", "passwd", "client.secret", "Cookie"]
    secrets += ["db_credentials", "refresh_token_hash", "Password_hash"]
    kept = {"is_active": True, "retention_days": 30, "key_names": ["ref"]}
    with transaction.atomic():
        activate("tenant-a")
        audit.record_admin(
            tenant_id="tenant-a",
            actor="root",
            action="TENANT_UPDATE",
            resource_type="tenant",
            after={**dict.fromkeys(secrets, "s3cr3t-value"), **kept},
        )
        rows = list(Event.objects.values("tenant_id", "id", "after", "masked"))
        open_rows(rows)
    ((after, masked),) = [(row["after"], row["masked"]) for row in rows]
    assert (after, masked) == (kept, [])


def test_an_access_event_is_refused_outside_the_active_tenant(parties):
    """record_access writes where the read activated; another tenant is refused by
    row-level security, so a read of A can never write into B."""
    with pytest.raises(ProgrammingError), transaction.atomic():
        activate("tenant-a")
        audit.record_access(tenant_id="tenant-b", actor="alice", action=audit.AccessAction.SEARCH)
    assert categories("tenant-b") == []
