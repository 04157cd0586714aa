"""Cold storage: where a tenant's archived day lives in S3, and reading it back.

Keys carry the tenant first, so one tenant's archive can be listed, exported
or erased alone (`tenants/<tenant>/`):

    tenants/<tenant>/events/<yyyy>/<mm>/<dd>/part-0000.parquet
    tenants/<tenant>/events/<yyyy>/<mm>/<dd>/manifest.json

The same code runs against AWS and the local moto endpoint (auditlog_project/aws.py).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq
from django.conf import settings

from auditlog_project.aws import ensure_bucket, s3_client

from .errors import ArchiveMissing, ArchiveVerificationFailed
from .parquet import sha256_of

MANIFEST = "manifest.json"


def bucket() -> str:
    return settings.ARCHIVE_BUCKET


def tenant_prefix(tenant_id: str) -> str:
    return f"tenants/{tenant_id}/"


def day_prefix(tenant_id: str, day: date) -> str:
    return f"{tenant_prefix(tenant_id)}events/{day:%Y/%m/%d}/"


def part_key(tenant_id: str, day: date, index: int) -> str:
    return f"{day_prefix(tenant_id, day)}part-{index:04d}.parquet"


def manifest_key(tenant_id: str, day: date) -> str:
    return day_prefix(tenant_id, day) + MANIFEST


def ready() -> None:
    """The archive bucket exists (created on first use with a local endpoint)."""
    ensure_bucket(bucket())


def upload_file(key: str, path: Path) -> None:
    """Upload a file (multipart above the transfer threshold, streamed from disk)."""
    s3_client().upload_file(str(path), bucket(), key)


def put_bytes(key: str, body: bytes, content_type: str) -> None:
    s3_client().put_object(Bucket=bucket(), Key=key, Body=body, ContentType=content_type)


def get_bytes(key: str) -> bytes:
    try:
        response = s3_client().get_object(Bucket=bucket(), Key=key)
    except s3_client().exceptions.NoSuchKey:
        raise ArchiveMissing(f"No archived object {key}.") from None
    return response["Body"].read()


def download_to(key: str, stream: IO[bytes]) -> None:
    """Stream an object into a file, chunk by chunk (never whole in memory)."""
    try:
        s3_client().download_fileobj(bucket(), key, stream)
    except s3_client().exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise ArchiveMissing(f"No archived object {key}.") from None
        raise
    stream.flush()
    stream.seek(0)


@contextmanager
def verified_download(
    key: str, *, sha256: str, rows: int, tenant_id: str
) -> Iterator[pq.ParquetFile]:
    """Download a part and check it is what was written: its SHA-256, its row
    count, and that every row belongs to `tenant_id`; yields the open file.

    Raises ArchiveVerificationFailed naming what differs.
    """
    with tempfile.TemporaryFile() as stream:
        download_to(key, stream)
        actual, _ = sha256_of(stream)
        if actual != sha256:
            raise ArchiveVerificationFailed(f"{key}: SHA-256 {actual} differs from {sha256}.")
        stream.seek(0)
        parquet = pq.ParquetFile(stream)
        if parquet.metadata.num_rows != rows:
            raise ArchiveVerificationFailed(
                f"{key}: {parquet.metadata.num_rows} rows instead of {rows}."
            )
        _check_tenant(parquet, key, tenant_id)
        yield parquet


def verify_part(key: str, *, sha256: str, rows: int, tenant_id: str) -> None:
    """Read a part back and check it (verified_download); raises if it differs."""
    with verified_download(key, sha256=sha256, rows=rows, tenant_id=tenant_id):
        pass


def _check_tenant(parquet: pq.ParquetFile, key: str, tenant_id: str) -> None:
    for group in range(parquet.num_row_groups):
        values = parquet.read_row_group(group, columns=["tenant_id"]).column(0).unique()
        if values.to_pylist() != [tenant_id]:
            raise ArchiveVerificationFailed(f"{key}: rows of another tenant in row group {group}.")


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def check_bytes(key: str, body: bytes, sha256: str) -> None:
    actual = sha256_hex(body)
    if actual != sha256:
        raise ArchiveVerificationFailed(f"{key}: SHA-256 {actual} differs from {sha256}.")


def remove_others(prefix: str, keep: set[str]) -> int:
    """Delete objects under `prefix` not in `keep` (parts left by an earlier,
    larger attempt at the same day); the number deleted."""
    client = s3_client()
    stale = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket(), Prefix=prefix)
        for item in page.get("Contents", [])
        if item["Key"] not in keep
    ]
    for key in stale:
        client.delete_object(Bucket=bucket(), Key=key)
    return len(stale)


def presigned_url(key: str, seconds: int) -> str:
    return s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket(), "Key": key}, ExpiresIn=seconds
    )
