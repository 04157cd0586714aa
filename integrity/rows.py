"""Stored event rows as the sealing and the verification read them: one statement,
the columns of logs.fields.EVENT_FIELDS, values as stored.

The same values as `Event.objects.values(*EVENT_FIELDS)` (jsonb parsed with
json.loads, inet as text, timestamptz as aware datetimes, uuid as UUID), read
without the ORM's per-value conversions: reading rows was most of the sealing
drain's time (tests/integrity/bench_integrity.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from uuid import UUID

from django.db import connection

from logs.fields import EVENT_FIELDS, JSON_FIELDS

_COLUMNS = ", ".join(f'"{name}"' for name in EVENT_FIELDS)
_JSON_AT = tuple(EVENT_FIELDS.index(name) for name in JSON_FIELDS)
BY_IDS_SQL = f"""
    SELECT {_COLUMNS} FROM logs_event
    WHERE tenant_id = %s AND id = ANY(%s::uuid[]) AND "timestamp" BETWEEN %s AND %s
"""


def _row(values: Sequence) -> dict:
    row = dict(zip(EVENT_FIELDS, values, strict=True))
    for at in _JSON_AT:
        name = EVENT_FIELDS[at]
        if row[name] is not None:
            row[name] = json.loads(row[name])
    return row


def by_ids(tenant_id: str, ids: Sequence[UUID], times: Sequence[datetime]) -> dict[UUID, dict]:
    """The tenant's stored events among `ids` (dated within `times`), by id.

    Reads under the active tenant's row-level security; events deleted since
    are absent.
    """
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(BY_IDS_SQL, [tenant_id, list(ids), min(times), max(times)])
        return {row["id"]: row for row in map(_row, cursor.fetchall())}


def in_range(
    tenant_id: str, since: datetime | None, until: datetime | None, chunk: int = 5000
) -> Iterator[dict]:
    """The tenant's stored events dated in [since, until), streamed by a server-side cursor."""
    sql = f"SELECT {_COLUMNS} FROM logs_event WHERE tenant_id = %s"
    params: list = [tenant_id]
    if since is not None:
        sql += ' AND "timestamp" >= %s'
        params.append(since)
    if until is not None:
        sql += ' AND "timestamp" < %s'
        params.append(until)
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(chunk):
            yield from map(_row, batch)
