"""The search-index consumer: what it asks OpenSearch, and that a refusal is a failure
(so the drain retries the batch). A recording stand-in replaces the cluster here;
tests/search/test_opensearch_live.py runs the same against a real server."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from logs.search import client as cluster
from logs.search import indexer
from pipeline.consumers import PendingBatch
from tests.search.test_documents_and_queries import row

T = datetime(2026, 12, 1, tzinfo=UTC)


class Recording:
    """Records calls the way opensearch-py's client takes them."""

    def __init__(self, bulk_answer=None) -> None:
        self.calls: list[tuple] = []
        self.indices = self
        self.bulk_answer = bulk_answer or {"errors": False, "items": []}

    def __getattr__(self, name):
        def call(**kwargs):
            self.calls.append((name, kwargs))
            if name == "bulk":
                return self.bulk_answer
            if name == "exists":
                return False
            return {"deleted": 2}

        return call


@pytest.fixture
def recording(settings, monkeypatch):
    settings.OPENSEARCH_URL = "http://opensearch.invalid:9200"
    settings.OPENSEARCH_INDEX_PREFIX = "t-"
    stub = Recording()
    monkeypatch.setattr(cluster, "client", lambda: stub)
    cluster._tenants_with_alias.clear()
    return stub


def batch(kind: str, **extra) -> PendingBatch:
    return PendingBatch(
        id=1, xid=10, tenant_id="tenant-a", kind=kind, created_at=T, events=1, **extra
    )


def test_without_opensearch_the_consumer_does_nothing(settings):
    settings.OPENSEARCH_URL = ""
    indexer.handle([batch("insert", rows=[row()])])  # no client is even built


def test_inserts_prepare_the_index_and_alias_once_then_bulk(recording):
    indexer.handle([batch("insert", rows=[row()]), batch("insert", rows=[row()])])
    names = [name for name, _ in recording.calls]
    assert names == ["put_index_template", "exists", "create", "update_aliases", "bulk"]
    create = dict(recording.calls)["create"]
    assert create == {"index": "t-events-v1", "body": {"aliases": {"t-events": {}}}}
    bulk = [kwargs for name, kwargs in recording.calls if name == "bulk"][0]
    # consecutive batches of one tenant: one bulk request
    assert bulk["body"] == indexer.bulk_body("tenant-a", [row(), row()], "t-events")


def test_order_is_kept_across_tenants_and_deletes(recording):
    other = row(tenant_id="tenant-b")
    indexer.handle(
        [
            batch("insert", rows=[row()]),
            replace(batch("insert", rows=[other]), tenant_id="tenant-b"),
            batch("delete", before=T),
            batch("insert", rows=[row()]),
        ]
    )
    calls = [
        (name, kwargs.get("routing") or kwargs["body"][0]["index"]["routing"])
        for name, kwargs in recording.calls
        if name in ("bulk", "delete_by_query")
    ]
    assert calls == [
        ("bulk", "tenant-a"),
        ("bulk", "tenant-b"),
        ("delete_by_query", "tenant-a"),
        ("bulk", "tenant-a"),
    ]
    # the index is made sure of once per drain, not once per bulk request
    names = [name for name, _ in recording.calls]
    assert (names.count("put_index_template"), names.count("exists")) == (1, 1)


def test_deletes_follow_retention(recording):
    indexer.handle([batch("delete", before=T)])
    assert recording.calls == [
        (
            "delete_by_query",
            {
                "index": "t-events",
                "body": indexer.delete_query("tenant-a", T),
                "routing": "tenant-a",
                "conflicts": "proceed",
                "refresh": True,
            },
        )
    ]


def test_a_refused_document_fails_the_batch(recording):
    recording.bulk_answer = {
        "errors": True,
        "items": [{"index": {"error": {"type": "strict_dynamic_mapping_exception"}}}],
    }
    with pytest.raises(indexer.IndexingFailed, match="1 document"):
        indexer.handle([batch("insert", rows=[row()])])


def test_a_retention_day_deletes_that_day_only(recording):
    start = datetime(2026, 1, 5, tzinfo=UTC)
    indexer.handle([batch("delete", before=T, timestamps=(start,))])
    ((name, kwargs),) = recording.calls
    assert kwargs["body"] == indexer.delete_query("tenant-a", T, start)
    bounds = kwargs["body"]["query"]["bool"]["filter"][1]["range"]["timestamp_us"]
    assert bounds == {"lt": 1796083200000000, "gte": 1767571200000000}
