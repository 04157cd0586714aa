"""The backup objects in the object store: keys, manifests, listing, deleting.

Under settings.BACKUP_PREFIX in settings.BACKUP_BUCKET, one folder per backup:
`<backup id>/database.pgdump` (pg_dump's custom format) and
`<backup id>/manifest.json`, written last. A backup without its manifest is
incomplete (a crash mid-upload): it is never restored, and retention removes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from botocore.exceptions import ClientError
from django.conf import settings

from auditlog_project.aws import ensure_bucket, s3_client

from .errors import BackupError

DUMP_NAME = "database.pgdump"
MANIFEST_NAME = "manifest.json"
BACKUP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CHUNK = 1024 * 1024
# Server-side encryption at rest (SSE-S3); KMS keys are the data-protection issue's.
_PUT_ARGS = {"ServerSideEncryption": "AES256"}


@dataclass(frozen=True)
class StoredBackup:
    """One backup folder as listed: complete when its manifest is there."""

    backup_id: str
    complete: bool
    created_at: datetime  # the manifest's time, else the newest object's
    size: int


class HashingReader:
    """A read-only stream that counts and hashes what passes through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.size = 0
        self._sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.size += len(chunk)
        self._sha256.update(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


def checked_id(backup_id: str) -> str:
    if not BACKUP_ID.fullmatch(backup_id):
        raise BackupError(
            f"backup id {backup_id!r} is not valid (letters, digits, '.', '_', '-'; 128 at most)"
        )
    return backup_id


def _key(backup_id: str, name: str) -> str:
    return f"{settings.BACKUP_PREFIX}{checked_id(backup_id)}/{name}"


def bucket_ready() -> None:
    ensure_bucket(settings.BACKUP_BUCKET)


def dump_upload(backup_id: str, stream: IO[bytes]) -> tuple[int, str]:
    """Stream a dump to the store (multipart, no local copy); its size and SHA-256."""
    reader = HashingReader(stream)
    s3_client().upload_fileobj(
        reader, settings.BACKUP_BUCKET, _key(backup_id, DUMP_NAME), ExtraArgs=_PUT_ARGS
    )
    return reader.size, reader.hexdigest()


def dump_stored_size(backup_id: str) -> int:
    head = s3_client().head_object(Bucket=settings.BACKUP_BUCKET, Key=_key(backup_id, DUMP_NAME))
    return int(head["ContentLength"])


def dump_download(backup_id: str, sink: IO[bytes]) -> tuple[int, str]:
    """Write a backup's dump into `sink`; its size and SHA-256 as received."""
    body = s3_client().get_object(Bucket=settings.BACKUP_BUCKET, Key=_key(backup_id, DUMP_NAME))[
        "Body"
    ]
    reader = HashingReader(body)
    shutil.copyfileobj(reader, sink, _CHUNK)
    return reader.size, reader.hexdigest()


def manifest_put(manifest: dict[str, Any]) -> None:
    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
    s3_client().put_object(
        Bucket=settings.BACKUP_BUCKET,
        Key=_key(manifest["backup_id"], MANIFEST_NAME),
        Body=body,
        ContentType="application/json",
        **_PUT_ARGS,
    )


def manifest_get(backup_id: str) -> dict[str, Any] | None:
    """A backup's manifest, or None when the backup is missing or incomplete."""
    try:
        body = (
            s3_client()
            .get_object(Bucket=settings.BACKUP_BUCKET, Key=_key(backup_id, MANIFEST_NAME))["Body"]
            .read()
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NoSuchBucket"}:
            return None
        raise
    return json.loads(body)


def stored_backups() -> list[StoredBackup]:
    """Every backup folder under the prefix, oldest first."""
    folders: dict[str, dict[str, Any]] = {}
    paginator = s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.BACKUP_BUCKET, Prefix=settings.BACKUP_PREFIX):
        for item in page.get("Contents", []):
            backup_id, _, name = item["Key"][len(settings.BACKUP_PREFIX) :].partition("/")
            folder = folders.setdefault(backup_id, {"size": 0, "manifest": None, "newest": None})
            folder["size"] += item["Size"]
            folder["newest"] = max(filter(None, [folder["newest"], item["LastModified"]]))
            if name == MANIFEST_NAME:
                folder["manifest"] = item["LastModified"]
    backups = [
        StoredBackup(
            backup_id=backup_id,
            complete=folder["manifest"] is not None,
            created_at=folder["manifest"] or folder["newest"],
            size=folder["size"],
        )
        for backup_id, folder in folders.items()
    ]
    return sorted(backups, key=lambda backup: (backup.created_at, backup.backup_id))


def backup_objects_delete(backup_id: str) -> None:
    """Remove a backup's objects, the manifest first (it is never half-restorable)."""
    client = s3_client()
    for name in (MANIFEST_NAME, DUMP_NAME):
        client.delete_object(Bucket=settings.BACKUP_BUCKET, Key=_key(backup_id, name))
