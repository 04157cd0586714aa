"""Reads of the stored backups."""

from __future__ import annotations

from .errors import BackupNotFound
from .store import StoredBackup, manifest_get, stored_backups


def backup_list() -> list[StoredBackup]:
    """Every backup in the store, oldest first (incomplete ones too)."""
    return stored_backups()


def backup_latest_id() -> str:
    """The newest complete backup's id."""
    complete = [backup for backup in stored_backups() if backup.complete]
    if not complete:
        raise BackupNotFound("there is no complete backup in the store")
    return complete[-1].backup_id


def backup_manifest(backup_id: str) -> dict:
    manifest = manifest_get(backup_id)
    if manifest is None:
        raise BackupNotFound(f"no complete backup {backup_id!r} (see `manage.py backup --list`)")
    return manifest
