"""Encryption at rest: what the table holds, what readers get, and bound ciphertexts."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import connection, transaction

from encryption import keyring, services
from logs.audit import COMMAND
from tenants.scoping import activate
from tests.encryption.helpers import SECRET, get, post, secret_event, stored_text

pytestmark = pytest.mark.django_db


def test_before_and_after_are_encrypted_by_default_and_read_back_in_clear(parties):
    event = secret_event()
    created = post(parties, event)
    assert created["before"] == event["before"]  # the answer to the write is in clear

    stored = stored_text("tenant-a", event["id"])
    for name in ("before", "after"):
        assert SECRET not in stored[name]
        assert stored[name].startswith('"\\u0001v1.1.')  # a sealed jsonb string, key v1
    # Not in the default policy: stored as sent (and still searchable).
    assert SECRET in stored["message"]
    assert SECRET in stored["metadata"]

    read = get(parties, event["id"])
    assert (read["before"], read["after"]) == (event["before"], event["after"])
    listed = (
        parties.client("a_auditor")
        .get("/api/v1/logs", {"tenant_id": "tenant-a", "category": "application"})
        .json()
    )
    assert [e["before"] for e in listed["results"]] == [event["before"]]


def test_a_tenant_can_encrypt_every_sensitive_field(parties):
    services.policy_set(
        tenant=parties.tenant_a,
        fields=["before", "after", "metadata", "message", "user_agent"],
        actor="alice",
        origin=COMMAND,
    )
    event = secret_event()
    post(parties, event)

    stored = stored_text("tenant-a", event["id"])
    assert all(SECRET not in value for value in stored.values()), stored
    assert stored["message"].startswith("\x01v1.")
    read = get(parties, event["id"])
    for name in ("message", "user_agent", "before", "after", "metadata"):
        assert read[name] == event[name]


def test_a_user_agent_of_the_maximum_length_fits_once_encrypted(parties):
    services.policy_set(
        tenant=parties.tenant_a, fields=["before", "after", "user_agent"], actor="a", origin=COMMAND
    )
    event = secret_event(user_agent="é" * 1024)
    post(parties, event)
    assert get(parties, event["id"])["user_agent"] == "é" * 1024


def test_a_retry_is_answered_with_the_stored_event_in_clear(parties):
    event = secret_event()
    post(parties, event)
    again = parties.client("a_admin").post("/api/v1/logs", event, format="json")
    assert again.status_code == 200
    assert again.json()["before"] == event["before"]


def _copy(source: tuple[str, str], target: tuple[str, str], column: str, into: str) -> None:
    """Write the stored (sealed) `column` of the source event into `into` of the target."""
    with transaction.atomic(), connection.cursor() as cursor:
        activate(source[0])
        cursor.execute(
            f"SELECT {column}::text FROM logs_event WHERE id = %s",  # noqa: S608 - constants
            [source[1]],
        )
        sealed = cursor.fetchone()[0]
    with transaction.atomic(), connection.cursor() as cursor:
        activate(target[0])
        cursor.execute(
            f"UPDATE logs_event SET {into} = %s::jsonb WHERE id = %s",  # noqa: S608
            [sealed, target[1]],
        )
        assert cursor.rowcount == 1


def test_a_ciphertext_copied_to_another_tenant_does_not_decrypt(parties, caplog):
    theirs, ours = secret_event("tenant-a"), secret_event("tenant-b")
    post(parties, theirs)
    post(parties, ours)
    _copy(("tenant-a", theirs["id"]), ("tenant-b", ours["id"]), "before", "before")

    with caplog.at_level(logging.ERROR, logger="encryption.integrity"):
        read = get(parties, ours["id"], who="b_admin", tenant="tenant-b")
    assert read["before"] == "[undecryptable]"  # a clean answer, not a 500
    assert read["after"] == ours["after"]  # the rest of the event reads as usual
    [record] = [r for r in caplog.records if r.name == "encryption.integrity"]
    assert "integrity" in record.getMessage() and ours["id"] in record.getMessage()
    assert SECRET not in caplog.text


def test_a_ciphertext_moved_to_another_field_or_event_does_not_decrypt(parties, caplog):
    first, second = secret_event(), secret_event()
    post(parties, first)
    post(parties, second)
    _copy(("tenant-a", first["id"]), ("tenant-a", first["id"]), "before", "after")
    _copy(("tenant-a", first["id"]), ("tenant-a", second["id"]), "before", "before")
    with caplog.at_level(logging.ERROR, logger="encryption.integrity"):
        assert get(parties, first["id"])["after"] == "[undecryptable]"
        assert get(parties, second["id"])["before"] == "[undecryptable]"
    assert get(parties, first["id"])["before"] == first["before"]


def test_keys_are_cached_only_in_memory_for_a_bounded_time(
    parties, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A rotation by another process (a key version this one was not told of) is
    followed once ENCRYPTION_KEY_CACHE_SECONDS have passed, not before."""

    def post_committed() -> str:
        event = secret_event()
        with django_capture_on_commit_callbacks(execute=True):  # keys are cached on COMMIT
            post(parties, event)
        return stored_text("tenant-a", event["id"])["before"]

    def rotate_elsewhere() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            keyring.create_version("tenant-a")  # no forget: as in another process

    settings.ENCRYPTION_KEY_CACHE_SECONDS = 60
    post_committed()
    rotate_elsewhere()
    assert post_committed().startswith('"\\u0001v1.1.')  # cached: still v1
    later = time.monotonic() + 61
    monkeypatch.setattr(keyring, "time", SimpleNamespace(monotonic=lambda: later))
    assert post_committed().startswith('"\\u0001v1.2.')  # expired: the newest


def test_the_opensearch_path_answers_with_fields_in_clear(parties):
    """Search hits name events; their rows come from PostgreSQL and are opened."""
    from logs.models import Event
    from logs.search import backend, documents

    event = secret_event()
    post(parties, event)
    with transaction.atomic():
        activate("tenant-a")
        stored = Event.objects.values("id", "timestamp").get(id=event["id"])
        epoch_us = (stored["timestamp"] - documents.EPOCH) // timedelta(microseconds=1)
        hits = [{"sort": [epoch_us, str(stored["id"])]}]
        [row] = backend._rows(Event.objects.filter(tenant_id="tenant-a"), hits)
    assert (row["before"], row["after"]) == (event["before"], event["after"])
