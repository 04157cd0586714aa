"""Against a real OpenSearch (runs when OPENSEARCH_URL is set, e.g. the compose
`search` profile): the index, tenant aliases, the list contract, retention deletes.

No OpenSearch server can be installed on the project's machines, so these are
skipped there; the skip reason says so in the test summary (-ra).
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from logs.fields import EVENT_FIELDS
from logs.models import Event
from logs.search import client as cluster
from logs.search import indexer
from tenants.scoping import activate
from tests.logs.conftest import at, seed

pytestmark = [
    pytest.mark.opensearch,
    pytest.mark.django_db,
    pytest.mark.skipif(
        not os.environ.get("OPENSEARCH_URL"),
        reason="OPENSEARCH_URL is not set (no OpenSearch server on this machine); "
        "run `docker compose -f docker/compose.yaml --profile search up opensearch` and "
        "set OPENSEARCH_URL=http://127.0.0.1:9200 to run these",
    ),
]


@pytest.fixture
def indexed(parties, settings):
    """Both tenants' events seeded, then indexed into a fresh, private index."""
    settings.OPENSEARCH_URL = os.environ["OPENSEARCH_URL"]
    settings.OPENSEARCH_INDEX_PREFIX = f"test-{uuid.uuid4().hex[:8]}-"
    cluster._tenants_with_alias.clear()
    words = ["alpha login", "beta logout", "alpha export", "gamma", "alpha beta"]
    for tenant in ("tenant-a", "tenant-b"):
        seed(
            parties,
            tenant,
            [
                {
                    "user_id": "ursula" if i % 2 else "alice",
                    "action": "LOGIN" if i % 3 else "EXPORT",
                    "resource_type": "session",
                    "message": words[i % len(words)],
                    "severity": "ERROR" if i % 4 == 0 else "INFO",
                    "timestamp": at(i),
                }
                for i in range(23)
            ],
        )
    os_client = cluster.client()
    for tenant in ("tenant-a", "tenant-b"):
        with transaction.atomic():
            activate(tenant)
            rows = list(Event.objects.filter(tenant_id=tenant).values(*EVENT_FIELDS))
        indexer.index_rows(tenant, rows, os_client)
    os_client.indices.refresh(index=cluster.write_alias())
    yield os_client
    os_client.indices.delete(index=cluster.index_name(), ignore_unavailable=True)


def pages(client, url: str) -> tuple[list[str], set[str]]:
    ids, backends = [], set()
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        backends.add(response["X-Search-Backend"])
        ids += [event["id"] for event in response.json()["results"]]
        url = response.json()["next"]
    return ids, backends


@pytest.mark.parametrize(
    "query",
    [
        "",
        "&q=alpha",
        "&q=alpha+-beta",
        "&severity=ERROR",
        "&action=export&user_id=alice",
        "&ordering=timestamp",
    ],
)
def test_opensearch_and_postgresql_give_the_same_pages(indexed, parties, settings, query):
    client = parties.client("a_admin")
    url = f"/api/v1/logs?tenant_id=tenant-a&page_size=4{query}"
    from_opensearch, backends = pages(client, url)
    assert backends == {"opensearch"}
    settings.OPENSEARCH_URL = ""
    from_postgresql, _ = pages(client, url)
    assert from_opensearch == from_postgresql and from_opensearch


def test_a_tenant_alias_sees_only_its_tenant(indexed):
    hits = indexed.search(index=cluster.tenant_alias("tenant-b"), body={"size": 100})
    assert {hit["_source"]["tenant_id"] for hit in hits["hits"]["hits"]} == {"tenant-b"}


def test_retention_deletes_follow(indexed):
    cut = datetime.now(UTC) - timedelta(minutes=10)
    indexer.delete_before("tenant-a", cut, indexed)
    left = indexed.search(index=cluster.tenant_alias("tenant-a"), body={"size": 100})
    assert len(left["hits"]["hits"]) == 11  # events 0..10 minutes old
