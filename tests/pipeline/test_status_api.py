"""GET /api/v1/pipeline: platform administrators only; /readyz carries a lag line."""

from __future__ import annotations

import pytest

from tests.fixtures import MATRIX_PARTIES, matrix_call

pytestmark = pytest.mark.django_db

EXPECTED = {
    "platform_admin": 200,
    "a_admin": 403,
    "a_auditor": 403,
    "a_user": 403,
    "b_user": 403,
    "outsider": 403,
    None: 401,
}


@pytest.mark.parametrize("party", MATRIX_PARTIES)
def test_only_platform_administrators_see_the_pipeline(parties, party, sqs_queues):
    response = matrix_call(parties, party, "get", "/api/v1/pipeline", None)
    assert response.status_code == EXPECTED[party]
    for tenant in ("tenant-a", "tenant-b"):  # a tenant parameter changes nothing
        again = matrix_call(parties, party, "get", f"/api/v1/pipeline?tenant_id={tenant}", None)
        assert again.status_code == EXPECTED[party]


def test_the_status_names_each_consumer_and_both_queues(parties, sqs_queues, settings):
    settings.PIPELINE_CONSUMERS = [
        "logs.search.indexer.CONSUMER",
        "tests.pipeline.recorder.CONSUMER",
    ]
    body = parties.client("platform_admin").get("/api/v1/pipeline").json()
    assert [c["consumer"] for c in body["consumers"]] == ["search-index", "test-recorder"]
    assert set(body["consumers"][0]) == {
        "consumer",
        "pending_batches",
        "pending_events",
        "oldest_pending_seconds",
        "watermark_updated_at",
        "events_done",
        "dead_batches",
    }
    assert set(body["queues"]) == {"main", "dead_letter"}
    assert body["queues"]["main"]["name"].endswith("default")
    assert {"waiting", "in_flight", "delayed"} <= set(body["queues"]["dead_letter"])


def test_the_status_says_when_sqs_does_not_answer(parties, settings):
    settings.SQS_ENDPOINT_URL = "http://127.0.0.1:1"
    body = parties.client("platform_admin").get("/api/v1/pipeline").json()
    assert "error" in body["queues"]
    assert body["consumers"]


def test_readyz_has_a_pipeline_line_that_does_not_decide_readiness(client, sqs_queues, parties):
    from tests.pipeline.test_drain_helpers import ingest_in_test_transaction

    ingest_in_test_transaction("tenant-a", 3)
    response = client.get("/readyz")
    assert response.status_code == 200
    line = response.json()["pipeline"]["search-index"]
    assert line["pending_events"] == 3
    assert line["oldest_pending_seconds"] >= 0
