"""GET /api/v1/logs names its backend, and falls back to PostgreSQL when OpenSearch
does not answer, with the same results and cursors."""

from __future__ import annotations

import pytest

from tests.logs.conftest import at, seed

pytestmark = pytest.mark.django_db


def test_postgresql_answers_by_default(parties):
    seed(parties, "tenant-a", [{"user_id": "ursula", "action": "LOGIN", "resource_type": "s"}])
    response = parties.client("a_admin").get("/api/v1/logs?tenant_id=tenant-a")
    assert response.status_code == 200
    assert response["X-Search-Backend"] == "postgresql"
    assert "X-Search-Fallback" not in response


def test_opensearch_down_falls_back_to_postgresql_with_the_same_pages(parties, settings):
    events = [
        {"user_id": "ursula", "action": "LOGIN", "resource_type": "s", "timestamp": at(m)}
        for m in range(7)
    ]
    seed(parties, "tenant-a", events)
    client = parties.client("a_admin")
    url = "/api/v1/logs?tenant_id=tenant-a&page_size=3&action=LOGIN"  # not the reads (SEARCH)
    expected_first = client.get(url).json()
    settings.OPENSEARCH_URL = "http://127.0.0.1:1"  # nothing listens there
    settings.OPENSEARCH_TIMEOUT = 0.5
    response = client.get(url)
    assert response.status_code == 200
    assert response["X-Search-Backend"] == "postgresql"
    assert response["X-Search-Fallback"] == "opensearch unavailable; answered from PostgreSQL"
    first = response.json()
    assert first == expected_first
    second = client.get(first["next"])
    assert second["X-Search-Fallback"]
    ids = [e["id"] for e in first["results"] + second.json()["results"]]
    assert len(ids) == len(set(ids)) == 6


def test_bad_filters_are_refused_before_any_backend_is_asked(parties, settings):
    settings.OPENSEARCH_URL = "http://127.0.0.1:1"
    response = parties.client("a_admin").get("/api/v1/logs?tenant_id=tenant-a&severity=LOUD")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "severity"


def test_the_user_role_falls_back_to_its_own_events_only(parties, settings):
    seed(
        parties,
        "tenant-a",
        [
            {"user_id": "ursula", "action": "LOGIN", "resource_type": "s"},
            {"user_id": "alice", "action": "LOGIN", "resource_type": "s"},
        ],
    )
    settings.OPENSEARCH_URL = "http://127.0.0.1:1"
    settings.OPENSEARCH_TIMEOUT = 0.5
    response = parties.client("a_user").get("/api/v1/logs?tenant_id=tenant-a")
    assert response["X-Search-Fallback"]
    assert {e["user_id"] for e in response.json()["results"]} == {"ursula"}


def test_opensearch_hits_are_answered_with_postgresql_rows_in_hit_order(
    parties, settings, monkeypatch
):
    """OpenSearch finds and orders; rows come from PostgreSQL (its scope: RLS and role)."""
    from logs.search import client as cluster
    from logs.search import documents

    seed(
        parties,
        "tenant-a",
        [
            {"user_id": "ursula", "action": "A", "resource_type": "s", "timestamp": at(m)}
            for m in range(3)
        ],
    )
    seed(parties, "tenant-b", [{"user_id": "bob", "action": "A", "resource_type": "s"}])
    client = parties.client("a_admin")
    stored = client.get("/api/v1/logs?tenant_id=tenant-a").json()["results"]
    other = parties.client("b_admin").get("/api/v1/logs?tenant_id=tenant-b").json()["results"]
    from datetime import datetime

    def hit(event):
        moment = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        return {"sort": [documents.epoch_us(moment), event["id"]]}

    searches = []

    class Stub:
        def search(self, **kwargs):
            searches.append(kwargs)
            # a wrong hit from another tenant is dropped by the PostgreSQL scope
            return {"hits": {"hits": [hit(stored[2]), hit(other[0]), hit(stored[1])]}}

    settings.OPENSEARCH_URL = "http://opensearch.invalid:9200"
    monkeypatch.setattr(cluster, "client", lambda: Stub())
    response = client.get("/api/v1/logs?tenant_id=tenant-a&page_size=2")
    assert response["X-Search-Backend"] == "opensearch"
    body = response.json()
    # hit order kept; the other tenant's hit is not shown; the third hit means "more"
    assert body["results"] == [stored[2]]
    assert body["next"] is not None
    assert searches[0]["index"] == cluster.tenant_alias("tenant-a")
    assert searches[0]["routing"] == "tenant-a"
    assert searches[0]["body"]["size"] == 3
