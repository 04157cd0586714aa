"""Which backend answers a list: PostgreSQL full text, or OpenSearch when configured.

With OPENSEARCH_URL set, OpenSearch finds and orders the page's ids (filters,
`q`, keyset order) and PostgreSQL returns the rows (the source of truth,
under row-level security, decrypting what must be), so the answer has the
same shape, fields and cursors on both backends. When OpenSearch does not
answer (down, timeout, the tenant not indexed yet), the page comes from
PostgreSQL and the answer says so (`X-Search-Fallback`). A filter OpenSearch
is not taught yet is answered by PostgreSQL too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db.models import QuerySet

from encryption.rows import open_rows
from tenants.scoping import TenantAccess

from .. import selectors
from ..fields import EVENT_FIELDS
from ..models import Event
from ..pagination import Page, PageRequest, assemble_page
from . import client as cluster
from . import documents
from .query import SUPPORTED, build_search

logger = logging.getLogger(__name__)

POSTGRESQL = "postgresql"
OPENSEARCH = "opensearch"


@dataclass(frozen=True)
class SearchAnswer:
    page: Page
    backend: str
    fallback: str | None = None  # why OpenSearch did not answer


def event_search(
    *, scope: QuerySet[Event], params: Mapping[str, str], access: TenantAccess
) -> SearchAnswer:
    """One page of the list, from the configured backend (see the module doc)."""
    if not cluster.enabled():
        return SearchAnswer(selectors.event_list(scope=scope, params=params), POSTGRESQL)
    filters = selectors.event_filters(params)  # 400 for bad input, whichever backend
    page = PageRequest.from_params(params)
    if any(filters.get(name) not in (None, "", []) for name in set(filters) - SUPPORTED):
        return SearchAnswer(selectors.event_list(scope=scope, params=params), POSTGRESQL)
    own = access.username if access.sees_only_own_events else None
    body = build_search(tenant_id=access.tenant_id, filters=filters, page=page, own_user=own)
    try:
        hits = cluster.client().search(
            index=cluster.tenant_alias(access.tenant_id), body=body, routing=access.tenant_id
        )["hits"]["hits"]
    except Exception as exc:  # noqa: BLE001 - any OpenSearch failure: answer from PostgreSQL
        logger.warning(
            "OpenSearch search failed, answering from PostgreSQL: %s", type(exc).__name__
        )
        reason = "opensearch unavailable; answered from PostgreSQL"
        return SearchAnswer(selectors.event_list(scope=scope, params=params), POSTGRESQL, reason)
    more = len(hits) > page.size
    rows = _rows(scope, hits[: page.size])
    if more and not rows:  # a whole page of hits PostgreSQL no longer has: rare
        return SearchAnswer(selectors.event_list(scope=scope, params=params), POSTGRESQL)
    return SearchAnswer(assemble_page(rows, page, more=more), OPENSEARCH)


def _rows(scope: QuerySet[Event], hits: list[dict]) -> list[dict]:
    """The hits' events from PostgreSQL, in the hits' order (ones deleted since drop out)."""
    keys = [(_moment(hit["sort"][0]), UUID(hit["sort"][1])) for hit in hits]
    if not keys:
        return []
    found = scope.filter(
        id__in=[key[1] for key in keys], timestamp__in=sorted({key[0] for key in keys})
    ).values(*EVENT_FIELDS)
    by_id = {row["id"]: row for row in found}
    rows = [by_id[event_id] for _, event_id in keys if event_id in by_id]
    open_rows(rows)  # encrypted fields in clear, as on the PostgreSQL path
    return rows


def _moment(epoch_us: int) -> datetime:
    return documents.EPOCH + timedelta(microseconds=int(epoch_us))
