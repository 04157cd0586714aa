"""Backups of the database to the object store, their restore, and their retention.

A backup is pg_dump's custom format (compressed) streamed to the store, plus a
manifest: times, size, SHA-256, per-table and per-tenant row counts and content
hashes (backups.fingerprint) and the applied migrations, all from the dump's
own snapshot. A restore verifies the download against the manifest before it
touches the target, and the restored rows against the manifest after.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from django.conf import settings
from psycopg import IsolationLevel

from . import pg, store
from .database import Database
from .errors import BackupCorrupt, BackupError, RestoreMismatch, TargetNotEmpty
from .fingerprint import database_fingerprint, events_per_tenant, fingerprint_differences
from .selectors import backup_manifest

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
# A folder without a manifest this old is a crashed backup, not one in progress.
INCOMPLETE_GRACE = timedelta(days=1)


def source_database() -> Database:
    """The database backups read, as the backup role (BYPASSRLS, read-only)."""
    return Database.from_url("BACKUP_DATABASE_URL", settings.BACKUP_DATABASE_URL)


def restore_target(name: str) -> Database:
    """Database `name` on the owner's server, reached as the owner (who restores)."""
    return Database.from_url("DATABASE_OWNER_URL", settings.DATABASE_OWNER_URL).named(name)


def backup_create(*, source: Database, backup_id: str, kind: str = "manual") -> dict[str, Any]:
    """Dump `source` into the object store with its manifest; returns the manifest.

    Guarantees: the dump and the manifest's counts and hashes come from one
    snapshot (pg_dump --snapshot of the transaction that fingerprints); the
    manifest is written only after pg_dump succeeded and the stored object has
    the uploaded size; a failed backup leaves no manifest (never restorable)
    and its partial dump is removed. An existing backup id is refused.
    """
    store.checked_id(backup_id)
    store.bucket_ready()
    if store.manifest_get(backup_id) is not None:
        raise BackupError(f"backup {backup_id} exists already")
    started_at, started = datetime.now(UTC), time.monotonic()
    with source.connect() as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = _scalar(conn, "SELECT pg_export_snapshot()")
        fingerprint = database_fingerprint(conn)
        fingerprinted = time.monotonic()
        size, digest = _dump_to_store(source, backup_id, snapshot)
        server_version = conn.info.server_version
    manifest = {
        "format": MANIFEST_FORMAT,
        "backup_id": backup_id,
        "kind": kind,
        "started_at": started_at.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "seconds": round(time.monotonic() - started, 3),
        "seconds_fingerprint": round(fingerprinted - started, 3),
        "source": {"database": source.name, "server_version_num": server_version},
        "dump": {
            "key": f"{settings.BACKUP_PREFIX}{backup_id}/{store.DUMP_NAME}",
            "bytes": size,
            "sha256": digest,
            "format": "pg_dump custom",
            "compression": settings.BACKUP_COMPRESSION,
            "tool": pg.tool_version("pg_dump"),
        },
        "events_per_tenant": events_per_tenant(fingerprint),
        **fingerprint,
    }
    store.manifest_put(manifest)
    logger.info("backup %s: %d bytes in %.1f s", backup_id, size, manifest["seconds"])
    return manifest


def _dump_to_store(source: Database, backup_id: str, snapshot: str) -> tuple[int, str]:
    try:
        with pg.pg_dump(
            source, snapshot=snapshot, compression=settings.BACKUP_COMPRESSION
        ) as stream:
            size, digest = store.dump_upload(backup_id, stream)
        stored = store.dump_stored_size(backup_id)
        if stored != size:
            raise BackupError(f"the store holds {stored} bytes of {size} uploaded")
    except BaseException:
        store.backup_objects_delete(backup_id)
        raise
    return size, digest


@dataclass
class RestoreReport:
    """What a restore did and proved."""

    backup_id: str
    database: str
    bytes: int
    seconds_download: float
    seconds_restore: float
    events_per_tenant: dict[str, int]
    migrations: str
    notes: list[str] = field(default_factory=list)


def backup_restore(
    *, backup_id: str, target: Database, checker: Database, force: bool = False
) -> RestoreReport:
    """Restore backup `backup_id` into the database `target` names, then prove it.

    Guarantees: nothing touches the target unless the downloaded dump has the
    manifest's size and SHA-256 (BackupCorrupt); a target that holds tables is
    replaced only with `force` (TargetNotEmpty); the restore is one
    transaction, and a database this call created is dropped again if it
    fails; afterwards the application role has its grants, and the rows read
    back (as `checker`, a role that sees every row) have the manifest's counts
    and hashes, table by table and tenant by tenant (RestoreMismatch).
    """
    manifest = backup_manifest(backup_id)
    exists = pg.database_exists(target)
    if exists and pg.database_has_tables(target) and not force:
        raise TargetNotEmpty(
            f"database {target.name!r} is not empty: restore under a new name, or pass --force "
            "to replace it"
        )
    notes: list[str] = []
    with tempfile.NamedTemporaryFile(prefix="auditlog-restore-", suffix=".pgdump") as dump:
        started = time.monotonic()
        size, digest = store.dump_download(backup_id, dump)
        dump.flush()
        _check_download(manifest, size, digest)
        downloaded = time.monotonic()
        if exists and force:
            pg.database_drop(target)
            notes.append(f"replaced the existing database {target.name}")
        _restore_into(target, dump.name)
        restored = time.monotonic()
    _verify(manifest, checker.named(target.name))
    return RestoreReport(
        backup_id=backup_id,
        database=target.name,
        bytes=size,
        seconds_download=round(downloaded - started, 3),
        seconds_restore=round(restored - downloaded, 3),
        events_per_tenant=manifest["events_per_tenant"],
        migrations=migration_state(manifest["migrations"]),
        notes=notes,
    )


def _check_download(manifest: dict, size: int, digest: str) -> None:
    expected = manifest["dump"]
    if size != expected["bytes"] or digest != expected["sha256"]:
        raise BackupCorrupt(
            f"backup {manifest['backup_id']} is corrupt: the dump has {size} bytes, SHA-256 "
            f"{digest}; its manifest says {expected['bytes']} bytes, SHA-256 {expected['sha256']}. "
            "Nothing was restored: pick another backup (`manage.py backup --list`)."
        )


def _restore_into(target: Database, path: str) -> None:
    created = not pg.database_exists(target)
    if created:
        pg.database_create(target)
    try:
        pg.pg_restore(target, path)
    except BaseException:
        if created:
            pg.database_drop(target)
        raise
    pg.grant_app_role(target, settings.DATABASE_APP_ROLE)


def _verify(manifest: dict, checker: Database) -> None:
    with checker.connect() as conn:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        restored = database_fingerprint(conn)
    differences = fingerprint_differences(manifest, restored)
    if differences:
        raise RestoreMismatch(
            f"database {checker.name!r} was restored but differs from backup "
            f"{manifest['backup_id']}: " + "; ".join(differences[:20])
        )


def migration_state(applied: dict[str, list[str]]) -> str:
    """How the restored schema stands against this code's migrations, in words."""
    from django.db.migrations.loader import MigrationLoader

    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    restored = {(app, name) for app, names in applied.items() for name in names}
    pending, unknown = sorted(on_disk - restored), sorted(restored - on_disk)
    if unknown:
        return (
            f"{len(unknown)} applied migrations are unknown to this code (e.g. {unknown[0]}): "
            "run the release the backup was taken with"
        )
    if pending:
        return f"{len(pending)} migrations of this code are not applied: run `manage.py migrate`"
    return "matches this code"


def backups_prune(*, now: datetime | None = None) -> list[str]:
    """Delete the backups past retention; the ids deleted, oldest first.

    A complete backup goes when it is neither among the newest
    BACKUP_KEEP_COUNT complete ones nor younger than BACKUP_KEEP_DAYS; so the
    newest backup is never pruned. An incomplete one (no manifest) goes once it
    is older than a day and past the age bound too.
    """
    now = now or datetime.now(UTC)
    backups = store.stored_backups()
    complete = [backup for backup in backups if backup.complete]
    keep = {backup.backup_id for backup in complete[-settings.BACKUP_KEEP_COUNT :]}
    horizon = now - timedelta(days=settings.BACKUP_KEEP_DAYS)
    doomed = [
        backup.backup_id
        for backup in backups
        if backup.backup_id not in keep
        and backup.created_at < horizon
        and (backup.complete or backup.created_at < now - INCOMPLETE_GRACE)
    ]
    for backup_id in doomed:
        store.backup_objects_delete(backup_id)
        logger.info("backup %s pruned", backup_id)
    return doomed


def period_backup_id(schedule: str, now: datetime) -> str:
    """The id of the scheduled backup of the period `now` falls in."""
    now = now.astimezone(UTC)
    return now.strftime("hourly-%Y%m%dT%H" if schedule == "hourly" else "daily-%Y%m%d")


def scheduled_backup_run(*, now: datetime | None = None) -> dict[str, Any]:
    """Back up once per period (BACKUP_SCHEDULE), then apply retention.

    Idempotent: a period that has its backup is skipped, and a run that finds
    another one holding the backup lock (a redelivered message) leaves it alone.
    """
    now = now or datetime.now(UTC)
    if settings.BACKUP_SCHEDULE == "off":
        return {"status": "off"}
    backup_id = period_backup_id(settings.BACKUP_SCHEDULE, now)
    source = source_database()
    status = "exists"
    if store.manifest_get(backup_id) is None:
        with source.connect(autocommit=True) as lock:
            if not _scalar(lock, "SELECT pg_try_advisory_lock(%s)", [_LOCK_KEY]):
                return {"status": "busy", "backup_id": backup_id}
            if store.manifest_get(backup_id) is None:
                backup_create(source=source, backup_id=backup_id, kind="scheduled")
                status = "created"
    return {"status": status, "backup_id": backup_id, "pruned": backups_prune(now=now)}


def _scalar(conn: psycopg.Connection, statement: str, params: list | None = None) -> Any:
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    return row[0]


# pg_try_advisory_lock key of scheduled backups (one at a time per database).
_LOCK_KEY = 0x61756469746C6F67  # "auditlog"
