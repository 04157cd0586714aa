"""Reads of the archival app: archived days and their download links."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from . import storage
from .choices import ArchiveState
from .models import ArchivedDay


def archived_days(
    scope: QuerySet[ArchivedDay],
    *,
    first: date | None = None,
    last: date | None = None,
    state: str | None = None,
) -> QuerySet[ArchivedDay]:
    """The scope's archived days, newest first, within [first, last] and of `state`."""
    if first is not None:
        scope = scope.filter(day__gte=first)
    if last is not None:
        scope = scope.filter(day__lte=last)
    if state is not None:
        scope = scope.filter(state=state)
    return scope.order_by("-day")


def verified_day(scope: QuerySet[ArchivedDay], day: date) -> ArchivedDay | None:
    return scope.filter(day=day, state=ArchiveState.VERIFIED).first()


def download_links(record: ArchivedDay, *, seconds: int) -> dict[str, Any]:
    """Presigned GET links to the day's manifest and parts, valid for `seconds`."""
    expires_at: datetime = timezone.now() + timedelta(seconds=seconds)
    return {
        "day": record.day,
        "expires_in": seconds,
        "expires_at": expires_at,
        "manifest": {
            "key": record.manifest_key,
            "sha256": record.manifest_sha256,
            "url": storage.presigned_url(record.manifest_key, seconds),
        },
        "parts": [
            {**part, "url": storage.presigned_url(part["key"], seconds)} for part in record.parts
        ],
    }
