"""archive_tenant_day against real PostgreSQL and the local S3 endpoint."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, time, timedelta

import pyarrow.parquet as pq
import pytest
from django.db import transaction

from archival import columns, storage
from archival.archive import archive_tenant_day
from archival.choices import ArchiveState
from archival.errors import ArchiveVerificationFailed
from archival.models import ArchivedDay
from auditlog_project.aws import s3_client
from logs.fields import EVENT_FIELDS, JSON_FIELDS
from tenants.scoping import activate

from .conftest import day_events, events_of_day, read_part, seed, some_day

pytestmark = pytest.mark.django_db


def _keys(bucket: str, prefix: str = "") -> list[str]:
    listed = s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def _record(tenant_id: str, day) -> ArchivedDay:
    with transaction.atomic():
        activate(tenant_id)
        return ArchivedDay.objects.get(tenant_id=tenant_id, day=day)


def _same_event(archived: dict, stored: dict) -> None:
    """An archived row (as stored: text forms) equals the ORM's row, column by column."""
    for name in EVENT_FIELDS:
        value, expected = archived[name], stored[name]
        if name in JSON_FIELDS:
            value = None if value is None else json.loads(value)
        elif name == "id":
            value = uuid.UUID(value)
        assert value == expected, name


def test_a_day_is_archived_verified_and_equal_to_the_rows(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 30))
    # The day's edges: the first instant is in, the next day's first instant is not.
    start = datetime.combine(day, time.min, tzinfo=UTC)
    seed(
        parties,
        "tenant-a",
        [{**day_events(day, 1)[0], "timestamp": (start + timedelta(days=1)).isoformat()}],
    )
    seed(
        parties,
        "tenant-a",
        [{**day_events(day, 1)[0], "timestamp": (start - timedelta(microseconds=1)).isoformat()}],
    )

    record = archive_tenant_day("tenant-a", day)

    assert record.state == ArchiveState.VERIFIED and record.verified_at is not None
    assert record.row_count == 30 and len(record.parts) == 1
    assert record.first_timestamp == start
    part = record.parts[0]
    assert part["key"] == f"tenants/tenant-a/events/{day:%Y/%m/%d}/part-0000.parquet"
    body = s3_client().get_object(Bucket=archive_bucket, Key=part["key"])["Body"].read()
    assert storage.sha256_hex(body) == part["sha256"] and len(body) == part["bytes"] == record.bytes
    manifest_body = (
        s3_client().get_object(Bucket=archive_bucket, Key=record.manifest_key)["Body"].read()
    )
    assert storage.sha256_hex(manifest_body) == record.manifest_sha256
    manifest = json.loads(manifest_body)
    assert manifest["row_count"] == 30 and manifest["parts"] == record.parts
    assert manifest["tenant_id"] == "tenant-a" and manifest["day"] == day.isoformat()
    assert manifest["schema_version"] == columns.SCHEMA_VERSION
    assert manifest["time_range"]["first"] == start.isoformat()
    rows = read_part(archive_bucket, part["key"])
    stored = {event["id"]: event for event in events_of_day("tenant-a", day)}
    assert len(rows) == len(stored) == 30
    for row in rows:
        _same_event(row, stored[uuid.UUID(row["id"])])
        assert len(row[columns.KEY_HASH]) == 16  # the idempotency key's content hash
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)


def test_every_stored_column_is_archived(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 2))
    record = archive_tenant_day("tenant-a", day)
    manifest = json.loads(storage.get_bytes(record.manifest_key))
    names = [column["name"] for column in manifest["columns"]]
    assert set(EVENT_FIELDS) <= set(names)
    assert names == [c.name for c in columns.event_columns()] + [columns.KEY_HASH]
    assert set(read_part(archive_bucket, record.parts[0]["key"])[0]) == set(names)


def test_a_verified_day_is_returned_as_recorded(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 5))
    first = archive_tenant_day("tenant-a", day)
    modified = s3_client().head_object(Bucket=archive_bucket, Key=first.parts[0]["key"])
    second = archive_tenant_day("tenant-a", day)
    assert second.pk == first.pk and second.attempts == 1
    assert second.verified_at == first.verified_at
    again = s3_client().head_object(Bucket=archive_bucket, Key=first.parts[0]["key"])
    assert again["LastModified"] == modified["LastModified"]


def test_a_half_done_day_is_redone_and_leftovers_removed(parties, archive_bucket, settings):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 4))
    with transaction.atomic():
        activate("tenant-a")
        ArchivedDay.objects.create(
            tenant_id="tenant-a", day=day, state=ArchiveState.RUNNING, attempts=1
        )
    storage.ready()
    leftover = storage.part_key("tenant-a", day, 7)
    storage.put_bytes(leftover, b"half an upload", "application/octet-stream")

    record = archive_tenant_day("tenant-a", day)

    assert record.state == ArchiveState.VERIFIED and record.attempts == 2 and record.row_count == 4
    assert _keys(archive_bucket) == sorted([record.parts[0]["key"], record.manifest_key])


def test_parts_and_row_groups_bound_the_memory_of_a_big_day(parties, archive_bucket, settings):
    settings.ARCHIVE_FETCH_ROWS = 2
    settings.ARCHIVE_ROW_GROUP_ROWS = 3
    settings.ARCHIVE_PART_MAX_ROWS = 7
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 16))
    record = archive_tenant_day("tenant-a", day)
    assert [p["rows"] for p in record.parts] == [7, 7, 2]
    ids = [row["id"] for p in record.parts for row in read_part(archive_bucket, p["key"])]
    assert sorted(ids) == sorted(str(e["id"]) for e in events_of_day("tenant-a", day))
    body = s3_client().get_object(Bucket=archive_bucket, Key=record.parts[0]["key"])["Body"].read()
    meta = pq.ParquetFile(io.BytesIO(body)).metadata
    assert (
        meta.num_row_groups >= 2
        and max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= 4
    )


def test_an_empty_day_is_verified_with_a_manifest_and_no_parts(parties, archive_bucket):
    record = archive_tenant_day("tenant-a", some_day(10))
    assert record.state == ArchiveState.VERIFIED and record.row_count == 0 and record.parts == []
    assert json.loads(storage.get_bytes(record.manifest_key))["row_count"] == 0


def test_a_tenants_archive_holds_only_its_rows_under_its_own_keys(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 6))
    seed(parties, "tenant-b", day_events(day, 9, tenant_id="tenant-b", user_id="bob"))
    record_a = archive_tenant_day("tenant-a", day)
    record_b = archive_tenant_day("tenant-b", day)
    rows_a = read_part(archive_bucket, record_a.parts[0]["key"])
    rows_b = read_part(archive_bucket, record_b.parts[0]["key"])
    assert {r["tenant_id"] for r in rows_a} == {"tenant-a"} and len(rows_a) == 6
    assert {r["tenant_id"] for r in rows_b} == {"tenant-b"} and len(rows_b) == 9
    assert all(
        k.startswith("tenants/tenant-a/") for k in _keys(archive_bucket, "tenants/tenant-a/")
    )
    assert len(_keys(archive_bucket, "tenants/tenant-a/")) == 2
    assert len(_keys(archive_bucket, "tenants/tenant-b/")) == 2
    # Each tenant's record is visible only under its own tenant (row-level security).
    with transaction.atomic():
        activate("tenant-a")
        assert list(ArchivedDay.objects.values_list("tenant_id", flat=True)) == ["tenant-a"]


def test_a_tampered_object_fails_verification_and_the_day_stays_unverified(
    parties, archive_bucket, monkeypatch
):
    day = some_day()
    seed(parties, "tenant-a", day_events(day, 5))
    upload = storage.upload_file

    def upload_then_tamper(key, path):
        upload(key, path)
        body = bytearray(s3_client().get_object(Bucket=archive_bucket, Key=key)["Body"].read())
        body[len(body) // 2] ^= 0xFF
        s3_client().put_object(Bucket=archive_bucket, Key=key, Body=bytes(body))

    monkeypatch.setattr(storage, "upload_file", upload_then_tamper)
    with pytest.raises(ArchiveVerificationFailed, match="SHA-256"):
        archive_tenant_day("tenant-a", day)
    record = _record("tenant-a", day)
    assert record.state == ArchiveState.FAILED and "SHA-256" in record.error
    assert len(events_of_day("tenant-a", day)) == 5  # nothing deleted

    monkeypatch.setattr(storage, "upload_file", upload)
    assert archive_tenant_day("tenant-a", day).state == ArchiveState.VERIFIED


def test_verification_refuses_a_wrong_count_and_another_tenants_rows(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-b", day_events(day, 3, tenant_id="tenant-b", user_id="bob"))
    record = archive_tenant_day("tenant-b", day)
    part = record.parts[0]
    with pytest.raises(ArchiveVerificationFailed, match="rows instead of"):
        storage.verify_part(part["key"], sha256=part["sha256"], rows=4, tenant_id="tenant-b")
    with pytest.raises(ArchiveVerificationFailed, match="another tenant"):
        storage.verify_part(part["key"], sha256=part["sha256"], rows=3, tenant_id="tenant-a")
