"""Consumer 1 of the pipeline: the search index follows the committed events.

With OPENSEARCH_URL unset, PostgreSQL full text is the search backend and
the insert itself maintains it (the generated `search_vector`): the consumer
has nothing to do, and its watermark still advances, which is what its lag
measures. With OpenSearch, each drain sends one bulk request for all the
batches it got: inserted events are indexed (idempotent: documents are keyed
by tenant and event id), deletions delete the tenant's documents dated
before the cut-off (`delete_before`, the hook that keeps the index in step
with retention). A bulk request with any failed item raises, so the drain
retries those batches (and after PIPELINE_MAX_ATTEMPTS parks them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from pipeline.consumers import Consumer, PendingBatch

from . import client as cluster
from . import documents


class IndexingFailed(RuntimeError):
    """OpenSearch refused some documents of a bulk request."""


def bulk_body(tenant_id: str, rows: Iterable[dict], index: str) -> list[dict]:
    """The bulk request lines that index `rows` (action, document, action, ...)."""
    body: list[dict] = []
    for row in rows:
        action = {
            "_index": index,
            "_id": cluster.document_id(tenant_id, row["id"]),
            "routing": tenant_id,
        }
        body.extend(({"index": action}, documents.document(row)))
    return body


def delete_query(tenant_id: str, before: datetime, since: datetime | None = None) -> dict:
    """The query that deletes the tenant's documents dated before `before` (from `since`)."""
    bounds = {"lt": documents.epoch_us(before)}
    if since is not None:
        bounds["gte"] = documents.epoch_us(since)
    return {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"tenant_id": tenant_id}},
                    {"range": {documents.SORT_FIELD: bounds}},
                ]
            }
        }
    }


def index_rows(
    tenant_id: str, rows: Sequence[dict], os_client=None, index: str | None = None
) -> int:
    """Index stored rows of one tenant in one bulk request; the number sent.

    `index`: the name `cluster.ensure_index` answered, when the caller made
    sure of it already (once per drain or reindex, not once per request)."""
    if not rows:
        return 0
    os_client = os_client or cluster.client()
    index = index or cluster.ensure_index(os_client)
    cluster.ensure_tenant_alias(tenant_id, os_client, index)
    answer = os_client.bulk(body=bulk_body(tenant_id, rows, cluster.write_alias()))
    if answer.get("errors"):
        failed = [i for i in answer.get("items", []) if i.get("index", {}).get("error")]
        raise IndexingFailed(f"{len(failed)} document(s) refused, first: {failed[:1]}")
    return len(rows)


def delete_before(
    tenant_id: str, before: datetime, os_client=None, since: datetime | None = None
) -> int:
    """Retention's hook: drop the tenant's documents dated before `before` (from
    `since`, when given); how many."""
    if not cluster.enabled():
        return 0
    os_client = os_client or cluster.client()
    answer = os_client.delete_by_query(
        index=cluster.write_alias(),
        body=delete_query(tenant_id, before, since),
        routing=tenant_id,
        conflicts="proceed",
        refresh=True,
    )
    return int(answer.get("deleted", 0))


def handle(batches: Sequence[PendingBatch]) -> None:
    """Apply committed batches to the index, in commit order."""
    if not cluster.enabled():
        return  # PostgreSQL full text: the insert already indexed the events
    os_client = cluster.client()
    index = ""  # made sure of once per drain, before the first bulk request

    def flush(tenant_id: str, rows: list[dict]) -> None:
        nonlocal index
        if rows:
            index = index or cluster.ensure_index(os_client)
            index_rows(tenant_id, rows, os_client, index)

    tenant = ""  # consecutive inserts of one tenant go in one bulk request
    rows: list[dict] = []
    for batch in batches:
        if rows and (batch.kind != "insert" or batch.tenant_id != tenant):
            flush(tenant, rows)
            rows = []
        if batch.kind == "insert":
            tenant = batch.tenant_id
            rows.extend(batch.rows)
        elif batch.kind == "delete" and batch.before is not None:
            since = batch.timestamps[0] if batch.timestamps else None
            delete_before(batch.tenant_id, batch.before, os_client, since=since)
    flush(tenant, rows)


CONSUMER = Consumer(
    name="search-index",
    handle=handle,
    description="OpenSearch indexing (a no-op on the PostgreSQL full-text backend)",
)
