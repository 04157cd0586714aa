"""Streamed exports of events: CSV, a JSON array, or NDJSON, at constant memory.

The pieces, in the order a request uses them:
- `export_queryset` validates the filters and the ordering while the request
  can still answer 400 (the view validates the format). Its rows are tuples of
  text in `EVENT_FIELDS` order, formatted by PostgreSQL as the API writes them
  (`EXPORT_COLUMNS`), so the encoders do no per-value type conversion;
- the view records the EXPORT access event (`logs.audit.record_access`) in
  the request transaction, so no byte of an export leaves before it commits;
- `export_stream` is the response body. It runs after the view returned, when
  the request transaction has committed and `app.tenant_id` is gone: it opens
  its own transaction, activates the tenant again for row-level security, and
  reads through a server-side cursor (`QuerySet.iterator`), `chunk_size` rows
  at a time. Memory is one chunk of rows and its encoded bytes, whatever the size.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterator, Mapping
from itertools import islice
from typing import cast

from django.db import transaction
from django.db.models import QuerySet

from auditlog_project.errors import Invalid
from encryption.rows import open_export_chunks
from tenants.scoping import activate

from .models import Event
from .pagination import ORDERINGS
from .selectors import event_filter
from .wire import EXPORT_COLUMNS, Encoder, ExportRow

logger = logging.getLogger(__name__)


def export_queryset(*, scope: QuerySet[Event], params: Mapping[str, str]) -> QuerySet[Event]:
    """The filtered, ordered events to export as `ExportRow`s; 400 names a bad parameter."""
    ordering = params.get("ordering") or "-timestamp"
    if ordering not in ORDERINGS:
        raise Invalid({"ordering": ["Must be -timestamp or timestamp."]})
    order = ("-timestamp", "-id") if ORDERINGS[ordering] else ("timestamp", "id")
    return event_filter(scope=scope, params=params).order_by(*order).values_list(*EXPORT_COLUMNS)


def export_stream(
    *, tenant_id: str, rows: QuerySet[Event], encode: Encoder, chunk_size: int
) -> Generator[bytes, None, None]:
    """The response body: encoded rows, one bytes block per `chunk_size` rows.

    A generator consumed by the server after the request transaction ended:
    it holds its own transaction (one snapshot for the whole export) with the
    tenant activated. A client that goes away closes the generator, which
    rolls that transaction back and closes the cursor.
    """
    with transaction.atomic():
        activate(tenant_id)
        try:
            # `rows` is a values_list() queryset: it yields ExportRow tuples.
            tuples = cast(Iterator[ExportRow], rows.iterator(chunk_size=chunk_size))
            chunks = open_export_chunks(_chunks(tuples, chunk_size))  # encrypted cells only
            for text in encode(chunks):
                yield text.encode("utf-8")
        except Exception:
            # Headers are sent: the client sees a truncated body, the log says why.
            logger.exception("export of tenant %s failed mid-stream", tenant_id)
            raise


def _chunks(rows: Iterator[ExportRow], size: int) -> Iterator[list[ExportRow]]:
    while chunk := list(islice(rows, size)):
        yield chunk
