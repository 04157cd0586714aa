"""Archived events checked against their leaves (part of `verification.tenant_verify`).

Each verified archived day of the range is read back from the archive bucket
(archival.storage.verified_download: the part's SHA-256, row count and tenant
against the day's record) and every archived row's canonical record is
compared with its leaf. Archived values are the stored values (encrypted
fields as ciphertext; archival/columns.py), so the records are the ones that
were sealed. Findings: an object that fails its checks (`archive`, naming the
object), an archived event that differs from its leaf (`edited`), a sealed
event of an archived day that is not in the archive (`deleted`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from archival import storage
from archival.choices import ArchiveState
from archival.errors import ArchiveMissing, ArchiveVerificationFailed
from archival.models import ArchivedDay
from logs.fields import EVENT_FIELDS, JSON_FIELDS, kind

from . import encoding
from .choices import Finding
from .merkle import leaf_hash

_UUIDS = frozenset(name for name in EVENT_FIELDS if kind(name) == "UUIDField")


@dataclass
class ArchiveCheck:
    problems: list = field(default_factory=list)  # verification.Problem values
    found: set[UUID] = field(default_factory=set)  # event ids read from the archive
    days: set[date] = field(default_factory=set)  # the archived days read whole


def _stored(row: dict[str, Any]) -> dict[str, Any]:
    """An archived row (Arrow values: text for uuid, inet and jsonb) as a stored row."""
    out = {name: row.get(name) for name in EVENT_FIELDS}
    for name in _UUIDS:
        if (text := out[name]) is not None:
            out[name] = UUID(text)
    for name in JSON_FIELDS:
        if (text := out[name]) is not None:
            out[name] = json.loads(text)
    return out


def _rows(tenant_id: str, part: dict) -> Iterator[dict[str, Any]]:
    with storage.verified_download(
        part["key"], sha256=part["sha256"], rows=part["rows"], tenant_id=tenant_id
    ) as parquet:
        present = [name for name in EVENT_FIELDS if name in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=5000, columns=present):
            yield from map(_stored, batch.to_pylist())


def archive_check(
    tenant_id: str,
    leaves: dict[UUID, tuple[int, bytes]],
    since: datetime | None,
    until: datetime | None,
    problem: Any,
) -> ArchiveCheck:
    """Read the tenant's verified archived days of [since, until) and compare them.

    `leaves`: event id -> (leaf index, leaf hash); `problem`: the Problem class.
    """
    check = ArchiveCheck()
    days = ArchivedDay.objects.filter(tenant_id=tenant_id, state=ArchiveState.VERIFIED)
    if since is not None:
        days = days.filter(day__gte=since.date())
    if until is not None:
        days = days.filter(day__lte=until.date())
    for record in days.order_by("day"):
        check.days.add(record.day)
        for part in record.parts:
            try:
                for row in _rows(tenant_id, part):
                    check.found.add(row["id"])
                    sealed = leaves.get(row["id"])
                    if sealed is not None and leaf_hash(encoding.event_record(row)) != sealed[1]:
                        detail = f"differs from its sealed record in {part['key']}"
                        check.problems.append(
                            problem(Finding.EDITED, detail, str(row["id"]), sealed[0])
                        )
            except (ArchiveVerificationFailed, ArchiveMissing) as exc:
                check.problems.append(problem(Finding.ARCHIVE, str(exc)))
                check.days.discard(record.day)  # unreadable: its events are not "missing"
    return check
