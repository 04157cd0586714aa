"""Putting archived events back into PostgreSQL, idempotently.

`restore_tenant_day` reads a day's manifest from S3 (checked against the
ArchivedDay record when there is one), downloads each part and checks it
(SHA-256, row count, tenant) before reading a row, then inserts the rows in
batches of ARCHIVE_RESTORE_BATCH_ROWS (every part is checked before the first
row is inserted), each one statement that:

- inserts the idempotency keys and the events with `ON CONFLICT DO NOTHING`
  (on their primary keys), so a rerun, or a day partly still in the
  database, restores only what is missing and never duplicates;
- marks the hours it wrote dirty for the stats rollup (`auditlog_stats_mark`,
  as ingest does), so stats count restored events at once and the rollup is
  recomputed by its refresh task;
- announces the restored events in the pipeline's log (`pipeline_batch`, as
  ingest does), so the search index and other consumers take them in again.

Rows land in the partition of their day (`logs.partitions.partitions_ensure`
makes a dropped daily partition again; days below the floor go to the history
partition). The search vector is a generated column, recomputed on insert,
so a restored day answers searches as it did before it was deleted.
"""

from __future__ import annotations

import json
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.db import connection, transaction

from logs import partitions
from tenants.scoping import activate

from . import columns as cols
from . import storage
from .archive import day_lock
from .errors import ArchiveMissing, ArchiveVerificationFailed
from .models import ArchivedDay

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoredDay:
    day: date
    archived: int  # rows in the archive
    restored: int  # events inserted (the rest were still there)
    keys_restored: int


def restore_tenant_day(tenant_id: str, day: date) -> RestoredDay:
    """Put the tenant's archived events of `day` back; counts of what was inserted.

    Raises ArchiveMissing when the day has no manifest in S3, and
    ArchiveVerificationFailed when the manifest or a part is not what was
    archived; nothing is inserted from an object that fails its checks.
    """
    with day_lock(tenant_id, day):
        manifest = _manifest(tenant_id, day)
        columns = _columns(manifest)
        partitions.partitions_ensure([day])
        statement = _insert_sql(columns)
        restored = keys = 0
        with ExitStack() as stack:
            # Every part is checked before any row is inserted: all or nothing.
            verified = [
                stack.enter_context(
                    storage.verified_download(
                        part["key"], sha256=part["sha256"], rows=part["rows"], tenant_id=tenant_id
                    )
                )
                for part in manifest["parts"]
            ]
            for parquet in verified:
                for batch in parquet.iter_batches(
                    batch_size=settings.ARCHIVE_RESTORE_BATCH_ROWS,
                    columns=[c.name for c in columns] + [cols.KEY_HASH],
                ):
                    inserted, inserted_keys = _insert(tenant_id, statement, columns, batch)
                    restored += inserted
                    keys += inserted_keys
    logger.info("restored %s %s: %s of %s rows", tenant_id, day, restored, manifest["row_count"])
    return RestoredDay(day, manifest["row_count"], restored, keys)


def _manifest(tenant_id: str, day: date) -> dict[str, Any]:
    key = storage.manifest_key(tenant_id, day)
    body = storage.get_bytes(key)
    with transaction.atomic():
        activate(tenant_id)
        record = ArchivedDay.objects.filter(tenant_id=tenant_id, day=day).first()
    if record is not None and record.manifest_sha256:
        storage.check_bytes(key, body, record.manifest_sha256)
    manifest = json.loads(body)
    if manifest.get("tenant_id") != tenant_id or manifest.get("day") != day.isoformat():
        raise ArchiveVerificationFailed(f"{key}: the manifest names another tenant or day.")
    if manifest.get("schema_version") != cols.SCHEMA_VERSION:
        raise ArchiveVerificationFailed(
            f"{key}: schema version {manifest.get('schema_version')} is not supported."
        )
    return manifest


def _columns(manifest: dict[str, Any]) -> list[cols.Column]:
    """The archived event columns; each must still exist in logs_event.

    Columns added since the archive was written are left to their default.
    """
    current = {c.name: c for c in cols.event_columns()}
    archived = [c for c in manifest["columns"] if c["name"] != cols.KEY_HASH]
    gone = [c["name"] for c in archived if c["name"] not in current]
    if gone:
        raise ArchiveMissing(f"Archived columns no longer in logs_event: {gone}.")
    return [cols.Column(c["name"], c["pg_type"], current[c["name"]].type_oid) for c in archived]


def _insert_sql(columns: list[cols.Column]) -> str:
    arrays = ", ".join(f"%s::{c.param_array}" for c in columns)
    names = ", ".join(f'"{c.name}"' for c in columns)
    values = ", ".join(_value(c) for c in columns)
    return f"""
    WITH input AS (
        SELECT * FROM unnest({arrays}, %s::bytea[]) AS i({names}, {cols.KEY_HASH})
    ), keys AS (
        INSERT INTO logs_event_key (tenant_id, id, "timestamp", content_hash)
        SELECT {_value_of(columns, "tenant_id")}, {_value_of(columns, "id")},
               {_value_of(columns, "timestamp")}, i.{cols.KEY_HASH}
        FROM input AS i WHERE i.{cols.KEY_HASH} IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING 1
    ), stored AS (
        INSERT INTO logs_event ({names})
        SELECT {values} FROM input AS i
        ON CONFLICT DO NOTHING
        RETURNING id, "timestamp"
    ), marked AS (
        SELECT auditlog_stats_mark(
            %s, array_agg(DISTINCT date_trunc('hour', "timestamp", 'UTC')))
        FROM stored
    ), announced AS (
        INSERT INTO pipeline_batch (tenant_id, kind, events, ids, timestamps)
        SELECT %s, 'insert', count(*), array_agg(id), array_agg("timestamp")
        FROM stored HAVING count(*) > 0 AND %s
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM stored), (SELECT count(*) FROM keys) FROM marked
    """


def _value(column: cols.Column) -> str:
    """The archived value cast back to its column type (text forms only)."""
    ref = f'i."{column.name}"'
    return f"{ref}::{column.pg_type}" if column.as_text else ref


def _value_of(columns: list[cols.Column], name: str) -> str:
    return _value(next(c for c in columns if c.name == name))


def _insert(
    tenant_id: str, statement: str, columns: list[cols.Column], batch: pa.RecordBatch
) -> tuple[int, int]:
    params = [batch.column(c.name).to_pylist() for c in columns]
    params += [batch.column(cols.KEY_HASH).to_pylist(), tenant_id, tenant_id]
    params.append(settings.PIPELINE_ANNOUNCE)
    with transaction.atomic(), partitions.missing_partition_is_unavailable():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            restored, keys = cursor.fetchone()
    return int(restored), int(keys)
