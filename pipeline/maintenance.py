"""Keeping the announcement log small: batches every consumer has handled go."""

from __future__ import annotations

from django.db import connection

PRUNE_SQL = """
    DELETE FROM pipeline_batch AS b
    WHERE b.created_at < now() - make_interval(hours => %(hours)s)
      AND NOT EXISTS (
          SELECT 1 FROM pipeline_consumerstate AS s
          WHERE NOT pg_visible_in_snapshot(b.xid, s.watermark::pg_snapshot))
      AND NOT EXISTS (
          SELECT 1 FROM pipeline_batchfailure AS f
          WHERE f.batch_id = b.id AND f.redriven_at IS NULL)
"""


def prune_batches(retention_hours: int) -> int:
    """Delete batches older than the retention that every consumer's watermark
    covers and no open failure names; the number deleted (kept that long for
    redrives and investigations)."""
    with connection.cursor() as cursor:
        cursor.execute(PRUNE_SQL, {"hours": retention_hours})
        return cursor.rowcount
