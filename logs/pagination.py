"""Keyset pagination over (timestamp, id): opaque cursors, no COUNT, no OFFSET.

A page is "the next `size` rows strictly after (or before) a position" in the
order (timestamp, id), so concurrent inserts never shift rows between pages.
Cursors are opaque to clients (base64url); tampering only moves the position
inside what the caller may see anyway.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from django.db.models import Q, QuerySet

from auditlog_project.errors import Invalid

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
ORDERINGS = {"-timestamp": True, "timestamp": False}  # value -> descending


def opaque(raw: str) -> str:
    """`raw` as an opaque, URL-safe token (base64 without padding)."""
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def opened(token: str) -> str:
    """The text of an `opaque` token; ValueError when it is not one."""
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


def utc_position(stamp: str) -> datetime:
    """A position's time, which must carry an offset, in UTC.

    In UTC because PostgreSQL refuses offsets beyond 15:59 (a crafted `+16:00`
    reached it as a 500); a time past the UTC range raises OverflowError.
    Used by every cursor: the list's and the stream's.
    """
    moment = datetime.fromisoformat(stamp)
    if moment.utcoffset() is None:
        raise ValueError(stamp)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Cursor:
    timestamp: datetime
    id: UUID
    backwards: bool  # True: the rows before this position, in reverse

    def encode(self) -> str:
        direction = "p" if self.backwards else "n"
        return opaque(f"{direction}|{self.timestamp.isoformat()}|{self.id.hex}")

    @classmethod
    def decode(cls, value: str) -> Cursor:
        try:
            direction, stamp, ident = opened(value).split("|")
            if direction not in ("n", "p"):
                raise ValueError(direction)
            timestamp = utc_position(stamp)
            return cls(timestamp=timestamp, id=UUID(hex=ident), backwards=direction == "p")
        except (ValueError, UnicodeDecodeError, binascii.Error, OverflowError):
            raise Invalid(
                {"cursor": ["Invalid cursor; use the next/previous links as given."]}
            ) from None


@dataclass(frozen=True)
class PageRequest:
    descending: bool = True
    size: int = DEFAULT_PAGE_SIZE
    cursor: Cursor | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> PageRequest:
        """`ordering`, `page_size` and `cursor`; 400 naming the bad parameter."""
        ordering = params.get("ordering") or "-timestamp"
        if ordering not in ORDERINGS:
            raise Invalid({"ordering": ["Must be -timestamp or timestamp."]})
        raw_size = params.get("page_size") or str(DEFAULT_PAGE_SIZE)
        if not re.fullmatch(r"[0-9]{1,4}", raw_size) or not 1 <= int(raw_size) <= MAX_PAGE_SIZE:
            raise Invalid({"page_size": [f"Must be an integer 1-{MAX_PAGE_SIZE}."]})
        cursor = params.get("cursor")
        return cls(
            descending=ORDERINGS[ordering],
            size=int(raw_size),
            cursor=Cursor.decode(cursor) if cursor else None,
        )


@dataclass(frozen=True)
class Page:
    rows: list[dict]
    next: Cursor | None
    previous: Cursor | None


def keyset_page(queryset: QuerySet, request: PageRequest) -> Page:
    """One page of `queryset` (rows as dicts with `timestamp` and `id`)."""
    cursor = request.cursor
    backwards = cursor is not None and cursor.backwards
    scan_descending = request.descending != backwards
    if cursor is not None:
        queryset = queryset.filter(_beyond(cursor, scan_descending))
    order = ("-timestamp", "-id") if scan_descending else ("timestamp", "id")
    rows = list(queryset.order_by(*order)[: request.size + 1])
    return assemble_page(rows, request)


def scans_descending(request: PageRequest) -> bool:
    """The order rows are read in: the page's order, reversed for a `previous` cursor."""
    backwards = request.cursor is not None and request.cursor.backwards
    return request.descending != backwards


def assemble_page(rows: list[dict], request: PageRequest, more: bool | None = None) -> Page:
    """A page from up to `size + 1` rows read in `scans_descending` order after the
    cursor (any backend: PostgreSQL here, OpenSearch's search_after in logs/search).
    `more`: whether rows follow, when the caller knows better than the row count."""
    cursor = request.cursor
    backwards = cursor is not None and cursor.backwards
    more = len(rows) > request.size if more is None else more
    rows = rows[: request.size]
    if backwards:
        rows.reverse()
    if not rows:
        return Page(rows=[], next=None, previous=None)
    first, last = rows[0], rows[-1]
    after_last = Cursor(last["timestamp"], last["id"], backwards=False)
    before_first = Cursor(first["timestamp"], first["id"], backwards=True)
    if backwards:
        return Page(rows=rows, next=after_last, previous=before_first if more else None)
    return Page(rows=rows, next=after_last if more else None, previous=cursor and before_first)


def _beyond(cursor: Cursor, descending: bool) -> Q:
    # The plain bound on timestamp alone lets PostgreSQL prune partitions and
    # bound the index scan; the OR settles ties on id.
    if descending:
        return Q(timestamp__lte=cursor.timestamp) & (
            Q(timestamp__lt=cursor.timestamp) | Q(id__lt=cursor.id)
        )
    return Q(timestamp__gte=cursor.timestamp) & (
        Q(timestamp__gt=cursor.timestamp) | Q(id__gt=cursor.id)
    )
