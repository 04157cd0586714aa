"""archive_restore: archived events come back, idempotently, answering as before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection, transaction

from archival import storage
from archival.archive import archive_tenant_day
from archival.errors import ArchiveMissing, ArchiveVerificationFailed
from archival.restore import restore_tenant_day
from auditlog_project.aws import s3_client
from encryption.services import keys_shred
from logs.stats.rollup_refresh import rollup_refresh
from pipeline.models import Batch
from tenants.scoping import activate
from tests.encryption.helpers import SECRET, get, post, secret_event

from .conftest import day_events, events_of_day, read_part, seed, some_day

pytestmark = pytest.mark.django_db


def delete_day(tenant_id: str, day) -> int:
    """What retention does after archiving: the day's events and keys go, hours marked."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        activate(tenant_id)
        cursor.execute(
            """
            WITH gone AS (
                DELETE FROM logs_event WHERE tenant_id = %(t)s
                  AND "timestamp" >= %(start)s AND "timestamp" < %(end)s
                RETURNING id, "timestamp"
            ), keys AS (
                DELETE FROM logs_event_key AS k USING gone
                WHERE k.tenant_id = %(t)s AND k.id = gone.id
            ), marked AS (
                SELECT auditlog_stats_mark(
                    %(t)s, array_agg(DISTINCT date_trunc('hour', "timestamp", 'UTC'))) FROM gone
            )
            SELECT count(*) FROM gone, marked
            """,
            {"t": tenant_id, "start": start, "end": start + timedelta(days=1)},
        )
        return cursor.fetchone()[0]


def answers(client, day, event_id: str) -> dict:
    """What the API says about the day: searches, filters, stats and one event."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    window = {
        "tenant_id": "tenant-a",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(days=2)).isoformat(),
        "page_size": 1000,
    }
    shapes = {
        "all": {},
        "text": {"q": "ünïcode"},
        "resource": {"q": "doc-7"},
        "severity": {"severity": "ERROR,WARNING"},
        "ip": {"ip_address": "2001:db8::1"},
        "oldest_first": {"ordering": "timestamp", "action": "VIEW"},
        "session": {"session_id": "s-2"},
    }
    result = {}
    for name, extra in shapes.items():
        response = client.get("/api/v1/logs", {**window, **extra})
        assert response.status_code == 200, response.json()
        result[name] = response.json()["results"]
    stats_window = {k: v for k, v in window.items() if k != "page_size"}
    for bucket in ("hour", "day"):
        response = client.get("/api/v1/logs/stats", {**stats_window, "bucket": bucket})
        assert response.status_code == 200
        result[f"stats-{bucket}"] = response.json()
    response = client.get(f"/api/v1/logs/{event_id}", {"tenant_id": "tenant-a"})
    result["one"] = (response.status_code, response.json())
    return result


def test_a_restored_archive_answers_searches_exactly_as_before_deletion(parties, archive_bucket):
    day = some_day()
    ids = seed(parties, "tenant-a", day_events(day, 30))
    later = seed(parties, "tenant-a", day_events(day + timedelta(days=1), 4))
    seed(parties, "tenant-b", day_events(day, 5, tenant_id="tenant-b", user_id="bob"))
    rollup_refresh(tenant_id="tenant-a", batch_hours=10_000)  # stats from the rollup
    client = parties.client("a_auditor")
    before = answers(client, day, ids[7])
    assert len(before["all"]) == 34 and before["text"] and before["resource"]

    record = archive_tenant_day("tenant-a", day)
    assert delete_day("tenant-a", day) == 30
    gone = answers(client, day, ids[7])
    assert len(gone["all"]) == 4 and gone["one"][0] == 404
    rollup_refresh(tenant_id="tenant-a", batch_hours=10_000)  # the rollup forgets the day

    result = restore_tenant_day("tenant-a", day)

    assert (result.archived, result.restored, result.keys_restored) == (30, 30, 30)
    assert answers(client, day, ids[7]) == before
    rollup_refresh(tenant_id="tenant-a", batch_hours=10_000)  # the rollup recomputed
    assert answers(client, day, ids[7]) == before
    assert {str(e["id"]) for e in events_of_day("tenant-a", day + timedelta(days=1))} == set(later)
    assert len(events_of_day("tenant-b", day)) == 5
    assert record.row_count == 30


def test_restore_is_idempotent_and_fills_only_what_is_missing(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 10))
    archive_tenant_day("tenant-a", day)
    assert restore_tenant_day("tenant-a", day).restored == 0  # all still there
    with transaction.atomic(), connection.cursor() as cursor:
        activate("tenant-a")
        cursor.execute(
            "DELETE FROM logs_event WHERE id IN (SELECT id FROM logs_event "
            "WHERE tenant_id = 'tenant-a' ORDER BY id LIMIT 3)"
        )
    announced = Batch.objects.filter(tenant_id="tenant-a", kind="insert").count()
    again = restore_tenant_day("tenant-a", day)
    assert (again.restored, again.keys_restored) == (3, 0)
    # The pipeline hears of the restored events (the search index takes them in again).
    batch = Batch.objects.filter(tenant_id="tenant-a", kind="insert").order_by("-id").first()
    assert Batch.objects.filter(tenant_id="tenant-a", kind="insert").count() == announced + 1
    assert batch is not None and batch.events == 3 and len(batch.ids) == 3
    assert len(events_of_day("tenant-a", day)) == 10
    assert restore_tenant_day("tenant-a", day).restored == 0


def test_restored_events_keep_their_idempotency_keys(parties, archive_bucket):
    day = some_day()
    events = day_events(day, 3)
    event_id = str(uuid.uuid4())
    seed_body = {**events[0], "id": event_id}
    client = parties.client("a_admin")
    assert client.post("/api/v1/logs", seed_body, format="json").status_code == 201
    archive_tenant_day("tenant-a", day)
    delete_day("tenant-a", day)
    restore_tenant_day("tenant-a", day)
    # The client's retry is recognised as one (200), other content with the id is a conflict.
    assert client.post("/api/v1/logs", seed_body, format="json").status_code == 200
    other = {**seed_body, "message": "something else"}
    assert client.post("/api/v1/logs", other, format="json").status_code == 409


def test_restore_refuses_a_tampered_part_and_inserts_nothing(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 6))
    record = archive_tenant_day("tenant-a", day)
    delete_day("tenant-a", day)
    key = record.parts[0]["key"]
    body = bytearray(s3_client().get_object(Bucket=archive_bucket, Key=key)["Body"].read())
    body[100] ^= 0x01
    s3_client().put_object(Bucket=archive_bucket, Key=key, Body=bytes(body))
    with pytest.raises(ArchiveVerificationFailed):
        restore_tenant_day("tenant-a", day)
    assert events_of_day("tenant-a", day) == []


def test_restore_refuses_a_manifest_changed_since_it_was_recorded(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 2))
    record = archive_tenant_day("tenant-a", day)
    manifest = storage.get_bytes(record.manifest_key).replace(b'"row_count": 2', b'"row_count": 3')
    storage.put_bytes(record.manifest_key, manifest, "application/json")
    with pytest.raises(ArchiveVerificationFailed, match="SHA-256"):
        restore_tenant_day("tenant-a", day)


def test_a_day_never_archived_is_missing(parties, archive_bucket):
    storage.ready()
    with pytest.raises(ArchiveMissing):
        restore_tenant_day("tenant-a", some_day(20))


def test_a_tenant_cannot_restore_another_tenants_archive_into_itself(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-b", day_events(day, 2, tenant_id="tenant-b", user_id="bob"))
    record = archive_tenant_day("tenant-b", day)
    # Copy B's day under A's keys: the manifest names B, and the parts hold B's rows.
    for key in [record.manifest_key, record.parts[0]["key"]]:
        body = s3_client().get_object(Bucket=archive_bucket, Key=key)["Body"].read()
        storage.put_bytes(key.replace("tenant-b", "tenant-a"), body, "application/octet-stream")
    with pytest.raises(ArchiveVerificationFailed, match="another tenant"):
        restore_tenant_day("tenant-a", day)
    assert events_of_day("tenant-a", day) == []


def test_encrypted_fields_stay_sealed_in_the_archive_and_shredding_covers_it(
    parties, archive_bucket
):
    day = some_day()
    event = secret_event(timestamp=datetime.combine(day, time(12), tzinfo=UTC).isoformat())
    post(parties, event)
    record = archive_tenant_day("tenant-a", day)
    (row,) = read_part(archive_bucket, record.parts[0]["key"])
    assert row["before"] is not None and SECRET not in row["before"]  # ciphertext, as stored
    assert SECRET not in row["after"]
    delete_day("tenant-a", day)
    restore_tenant_day("tenant-a", day)
    assert get(parties, event["id"])["before"]["card"] == SECRET  # restored, opens again
    keys_shred(tenant_id="tenant-a", actor="alice")
    delete_day("tenant-a", day)
    restore_tenant_day("tenant-a", day)
    assert get(parties, event["id"])["before"] == "[shredded]"
