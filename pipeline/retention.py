"""Retention's deletions reach the consumers through the batch log.

Retention deletes a tenant's day in chunks (archival/retention/deletion.py)
and then calls the hooks of `archival.retention.hooks.ON_DAY_DELETED`; this
one records a `delete` batch for the day ([start, end): `timestamps[0]` is
the start, `before` the end), in its own transaction, and announces it, so
every consumer (the search index first) follows retention in commit order.
Called again after a crash, it records the day again: deleting twice is the
same as once.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from tenants.scoping import activate

from .announce import announce


def record_day_deleted(tenant_id: str, start: datetime, end: datetime) -> None:
    with transaction.atomic():
        activate(tenant_id)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO pipeline_batch (tenant_id, kind, events, timestamps, before) "
                "VALUES (%s, 'delete', 0, ARRAY[%s]::timestamptz[], %s)",
                [tenant_id, start, end],
            )
        transaction.on_commit(lambda: announce(tenant_id, "delete", 0))
