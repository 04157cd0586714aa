"""Archiving one tenant's events of one UTC day to cold storage, verified.

`archive_tenant_day` is what retention calls before it deletes anything:

1. It takes the day's lock (a PostgreSQL advisory lock held by this session:
   a second worker given the same day waits, then finds it verified; a worker
   that dies releases it with its connection, so a rerun never waits for a corpse).
2. A day already VERIFIED is returned as recorded. Any other state (a run
   that failed or died half-way) is redone from the start: the keys are fixed
   per day, so objects are overwritten, and parts left over by an earlier,
   larger attempt are removed.
3. The rows are streamed from a server-side cursor into Parquet parts on local
   disk (archival/parquet.py: bounded memory), uploaded, downloaded again and
   checked (SHA-256, row count, tenant of every row); then the manifest is
   uploaded and read back. Only then is the day recorded VERIFIED.

Nothing is deleted from PostgreSQL here: retention deletes after this returns.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tenants.scoping import activate

from . import columns as cols
from . import storage
from .choices import ArchiveState
from .models import ArchivedDay
from .parquet import WrittenDay, write_parts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadedDay:
    written: WrittenDay
    parts: list[dict[str, Any]]
    manifest_key: str
    manifest_sha256: str


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1)


@contextmanager
def day_lock(tenant_id: str, day: date) -> Iterator[None]:
    """Serialise work on one tenant's day (archive, restore) across processes."""
    key = f"auditlog_archive:{tenant_id}:{day.isoformat()}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def archive_tenant_day(tenant_id: str, day: date) -> ArchivedDay:
    """Archive the tenant's events of a UTC day; the VERIFIED record.

    Idempotent: an archived and verified day returns its record untouched; a
    half-done one is redone. Raises ArchiveVerificationFailed (and records the
    day FAILED) when an object read back differs from what was written; the
    database rows are never touched.
    """
    with day_lock(tenant_id, day):
        record = _claim(tenant_id, day)
        if record.state == ArchiveState.VERIFIED:
            return record
        try:
            uploaded = _write_and_verify(tenant_id, day)
        except Exception as exc:
            _record_failure(record, exc)
            raise
        return _record_verified(record, uploaded)


def _claim(tenant_id: str, day: date) -> ArchivedDay:
    with transaction.atomic():
        activate(tenant_id)
        record, _ = ArchivedDay.objects.select_for_update().get_or_create(
            tenant_id=tenant_id, day=day, defaults={"state": ArchiveState.RUNNING}
        )
        if record.state == ArchiveState.VERIFIED:
            return record
        record.state = ArchiveState.RUNNING
        record.attempts += 1
        record.started_at = timezone.now()
        record.error = ""
        record.save(update_fields=["state", "attempts", "started_at", "error"])
        return record


def _record_failure(record: ArchivedDay, exc: Exception) -> None:
    logger.warning("archive of %s %s failed: %s", record.tenant_id, record.day, exc)
    with transaction.atomic():
        activate(record.tenant_id)
        ArchivedDay.objects.filter(pk=record.pk).update(
            state=ArchiveState.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
    record.refresh_from_db()


def _record_verified(record: ArchivedDay, uploaded: UploadedDay) -> ArchivedDay:
    written = uploaded.written
    record.state = ArchiveState.VERIFIED
    record.row_count = written.rows
    record.bytes = sum(part.bytes for part in written.parts)
    record.first_timestamp = written.first_timestamp
    record.last_timestamp = written.last_timestamp
    record.parts = uploaded.parts
    record.manifest_key = uploaded.manifest_key
    record.manifest_sha256 = uploaded.manifest_sha256
    record.schema_version = cols.SCHEMA_VERSION
    record.verified_at = timezone.now()
    with transaction.atomic():
        activate(record.tenant_id)
        record.save()
    return record


def _write_and_verify(tenant_id: str, day: date) -> UploadedDay:
    storage.ready()
    with tempfile.TemporaryDirectory(prefix="archive-") as directory:
        columns, written = _stream_day(tenant_id, day, Path(directory))
        parts = _upload_parts(tenant_id, day, written)
        manifest = _manifest(tenant_id, day, columns, written, parts)
        body = json.dumps(manifest, indent=2, sort_keys=True).encode()
        key = storage.manifest_key(tenant_id, day)
        sha256 = _upload_manifest(key, body)
    storage.remove_others(storage.day_prefix(tenant_id, day), {key, *(p["key"] for p in parts)})
    return UploadedDay(written=written, parts=parts, manifest_key=key, manifest_sha256=sha256)


def _stream_day(tenant_id: str, day: date, directory: Path) -> tuple[list[cols.Column], WrittenDay]:
    """The day's rows from a server-side cursor into Parquet parts on disk."""
    start, end = day_bounds(day)
    with transaction.atomic():
        activate(tenant_id)
        columns = cols.event_columns()
        schema = cols.archive_schema(columns)
        connection.ensure_connection()
        with connection.connection.cursor(name="archive_day") as cursor:
            cursor.itersize = settings.ARCHIVE_FETCH_ROWS
            cols.load_as_text(cursor, columns)
            cursor.execute(cols.select_day_sql(columns), [tenant_id, start, end])
            written = write_parts(
                _fetches(cursor),
                schema,
                directory,
                row_group_rows=settings.ARCHIVE_ROW_GROUP_ROWS,
                part_max_rows=settings.ARCHIVE_PART_MAX_ROWS,
                timestamp_index=[c.name for c in columns].index("timestamp"),
            )
    return columns, written


def _fetches(cursor) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(settings.ARCHIVE_FETCH_ROWS):
        yield rows


def _upload_parts(tenant_id: str, day: date, written: WrittenDay) -> list[dict[str, Any]]:
    """Upload each part, read it back and check it; the manifest's part entries."""
    entries = []
    for index, part in enumerate(written.parts):
        key = storage.part_key(tenant_id, day, index)
        storage.upload_file(key, part.path)
        storage.verify_part(key, sha256=part.sha256, rows=part.rows, tenant_id=tenant_id)
        entries.append({"key": key, "rows": part.rows, "bytes": part.bytes, "sha256": part.sha256})
    return entries


def _upload_manifest(key: str, body: bytes) -> str:
    """Upload the manifest and read it back; its SHA-256."""
    sha256 = storage.sha256_hex(body)
    storage.put_bytes(key, body, "application/json")
    storage.check_bytes(key, storage.get_bytes(key), sha256)
    return sha256


def _manifest(
    tenant_id: str,
    day: date,
    columns: list[cols.Column],
    written: WrittenDay,
    parts: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "schema_version": cols.SCHEMA_VERSION,
        "tenant_id": tenant_id,
        "day": day.isoformat(),
        "format": "parquet",
        "compression": "zstd",
        "row_count": written.rows,
        "time_range": {
            "first": _iso(written.first_timestamp),
            "last": _iso(written.last_timestamp),
        },
        "columns": [c.describe() for c in columns]
        + [{"name": cols.KEY_HASH, "pg_type": "bytea", "arrow_type": "binary"}],
        "parts": parts,
        "created_at": timezone.now().isoformat(),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
