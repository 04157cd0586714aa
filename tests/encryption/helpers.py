"""Helpers for the encryption tests: events with secrets, and the stored row as it is."""

from __future__ import annotations

import uuid

from django.db import connection, transaction

from tenants.scoping import activate

# Sensitive but not secret-shaped: masking at ingest (tests/masking) would replace
# a card number or a token before encryption ever saw it.
SECRET = "acct-7731 zebra-quartz hunter2"


def secret_event(tenant: str = "tenant-a", **overrides) -> dict:
    event = {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant,
        "user_id": "alice",
        "action": "UPDATE",
        "resource_type": "card",
        "message": f"message {SECRET}",
        "user_agent": f"agent {SECRET}",
        "before": {"card": SECRET, "nested": {"list": [SECRET, 1]}},
        "after": {"card": f"after {SECRET}"},
        "metadata": {"note": f"meta {SECRET}"},
    }
    event.update(overrides)
    return event


def post(parties, event: dict, who: str | None = None):
    who = who or ("a_admin" if event["tenant_id"] == "tenant-a" else "b_admin")
    response = parties.client(who).post("/api/v1/logs", event, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def stored_text(tenant_id: str, event_id: str) -> dict[str, str | None]:
    """The stored row's encryptable columns as PostgreSQL writes them (no decryption)."""
    with transaction.atomic(), connection.cursor() as cursor:
        activate(tenant_id)
        cursor.execute(
            "SELECT message, user_agent, before::text, after::text, metadata::text "
            "FROM logs_event WHERE tenant_id = %s AND id = %s",
            [tenant_id, event_id],
        )
        row = cursor.fetchone()
    return dict(zip(("message", "user_agent", "before", "after", "metadata"), row, strict=True))


def get(parties, event_id: str, who: str = "a_admin", tenant: str = "tenant-a") -> dict:
    response = parties.client(who).get(f"/api/v1/logs/{event_id}", {"tenant_id": tenant})
    assert response.status_code == 200, response.content
    return response.json()
