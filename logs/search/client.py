"""The OpenSearch cluster: the client, the names, the index and its aliases.

Isolation scheme: one index for all tenants (a tenant per index does not
scale to many small tenants), every document routed by its tenant (a
tenant's documents sit on one shard; a search reads that shard only), and
per tenant a filtered alias `<prefix>events-tenant-<id>` that carries the
tenant filter and the routing. Searches name the tenant's alias and repeat
the tenant filter in the query, so a query built wrong still cannot read
another tenant's documents. Documents are keyed `<tenant>:<event id>` (event
ids are unique per tenant only), so indexing the same event again replaces
it: indexing is idempotent.
"""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from . import documents

VERSION = 1  # bump when the mapping changes incompatibly, then `search_reindex`


def write_alias() -> str:
    return f"{settings.OPENSEARCH_INDEX_PREFIX}events"


def index_name(version: int = VERSION) -> str:
    return f"{settings.OPENSEARCH_INDEX_PREFIX}events-v{version}"


def index_pattern() -> str:
    return f"{settings.OPENSEARCH_INDEX_PREFIX}events-v*"


def template_name() -> str:
    return f"{settings.OPENSEARCH_INDEX_PREFIX}events"


def tenant_alias(tenant_id: str) -> str:
    return f"{settings.OPENSEARCH_INDEX_PREFIX}events-tenant-{tenant_id}"


def document_id(tenant_id: str, event_id: object) -> str:
    return f"{tenant_id}:{event_id}"


def tenant_alias_body(tenant_id: str, index: str) -> dict:
    """The filtered alias of one tenant: its filter and its routing."""
    return {
        "actions": [
            {
                "add": {
                    "index": index,
                    "alias": tenant_alias(tenant_id),
                    "filter": {"term": {"tenant_id": tenant_id}},
                    "routing": tenant_id,
                }
            }
        ]
    }


def enabled() -> bool:
    return bool(settings.OPENSEARCH_URL)


@lru_cache(maxsize=4)
def _client(url: str, timeout: float):
    from opensearchpy import OpenSearch

    return OpenSearch(hosts=[url], timeout=timeout, max_retries=0, retry_on_timeout=False)


def client():
    """The cluster of OPENSEARCH_URL (credentials, if any, in the URL)."""
    return _client(settings.OPENSEARCH_URL, settings.OPENSEARCH_TIMEOUT)


_tenants_with_alias: set[tuple[str, str]] = set()


def ensure_index(os_client=None, version: int = VERSION) -> str:
    """The template, the versioned index and the write alias exist; the index name."""
    os_client = os_client or client()
    os_client.indices.put_index_template(
        name=template_name(), body=documents.index_template(index_pattern())
    )
    name = index_name(version)
    if not os_client.indices.exists(index=name):
        os_client.indices.create(index=name, body={"aliases": {write_alias(): {}}})
    return name


def ensure_tenant_alias(tenant_id: str, os_client=None, index: str | None = None) -> None:
    """The tenant's filtered alias exists (once per process and index)."""
    index = index or index_name()
    if (tenant_id, index) in _tenants_with_alias:
        return
    (os_client or client()).indices.update_aliases(body=tenant_alias_body(tenant_id, index))
    _tenants_with_alias.add((tenant_id, index))
