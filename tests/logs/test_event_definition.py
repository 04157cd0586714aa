"""One definition of an event's columns (logs.models.Event) drives every list of them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from logs import fields, services, validation
from logs.api.serializers import EventCreateSerializer, EventSerializer
from logs.models import Event
from logs.wire import EXPORT_COLUMNS

MODEL_COLUMNS = [field.attname for field in Event._meta.concrete_fields]


def test_every_model_column_is_an_event_field_in_declaration_order():
    assert list(fields.EVENT_FIELDS) == MODEL_COLUMNS
    assert {"tenant_id", "received_at", "category"} == fields.STATEMENT_SET
    assert {"tenant_id", "received_at", "category", "masked"} == fields.SERVER_SET
    assert set(fields.INPUT_FIELDS) == set(MODEL_COLUMNS) - fields.SERVER_SET
    assert set(fields.BATCH_FIELDS) == set(MODEL_COLUMNS) - fields.STATEMENT_SET


def test_the_insert_statement_writes_every_column():
    stored = re.search(r"INSERT INTO logs_event \(([^)]*)\)", services.INSERT_SQL)
    assert stored is not None
    assert [name.strip().strip('"') for name in stored.group(1).split(",")] == MODEL_COLUMNS
    for name in fields.BATCH_FIELDS:
        assert f'"{name}" {fields.sql_type(name)}' in services.INSERT_SQL


def test_every_client_set_column_has_a_validation_rule():
    assert set(validation.RULES) == set(fields.INPUT_FIELDS)


def test_the_api_shapes_and_the_export_have_every_column():
    assert list(EventSerializer().fields) == MODEL_COLUMNS
    # `category` is accepted on input with its one client value, `application`.
    assert list(EventCreateSerializer().fields) == [
        c for c in MODEL_COLUMNS if c not in ("received_at", "masked")
    ]
    assert len(EXPORT_COLUMNS) == len(MODEL_COLUMNS)


@pytest.mark.parametrize(
    ("body", "digest"),
    [
        (
            {"user_id": "u", "action": "login", "resource_type": "r"},
            "4b7a884ed82a0a481bf3715b1d398249",
        ),
        (
            {
                "id": "2b7f8a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                "user_id": "ü",
                "action": "Login",
                "resource_type": "r",
                "severity": "error",
                "ip_address": "::ffff:1.2.3.4",
                "session_id": "s",
                "resource_id": "x",
                "user_agent": "ua",
                "message": "m\n",
                "request_id": "q",
                "before": {"b": 1, "a": [1, 2]},
                "after": {"z": None},
                "metadata": {"k": "v"},
                "timestamp": "2025-12-31T10:00:00+02:00",
            },
            "20bf4bcd3c0dc5e270eb8845e1617c2d",
        ),
    ],
)
def test_the_content_hash_of_stored_events_never_changes(body, digest):
    # Stored keys carry this hash: a retry of an event stored by an earlier
    # release must hash the same, or it would be answered 409.
    event = validation.parse_event(body, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert event.content_hash.hex() == digest


@pytest.mark.django_db
def test_a_stored_event_answers_its_columns_in_declaration_order(parties):
    response = parties.client("a_admin").post(
        "/api/v1/logs",
        {"tenant_id": "tenant-a", "user_id": "u", "action": "login", "resource_type": "r"},
        format="json",
    )
    assert response.status_code == 201
    assert list(response.json()) == MODEL_COLUMNS
    listed = parties.client("a_admin").get("/api/v1/logs", {"tenant_id": "tenant-a"})
    assert list(listed.json()["results"][0]) == MODEL_COLUMNS
