"""After COMMIT, the new rows go to each consumer of logs.after_commit.CONSUMERS, once."""

from __future__ import annotations

import uuid

import pytest

from logs import after_commit
from tests.logs.conftest import event_body

pytestmark = pytest.mark.django_db


def post(client, body):
    return client.post("/api/v1/logs", body, format="json")


@pytest.fixture
def consumed(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(
        after_commit,
        "CONSUMERS",
        [lambda tenant_id, events: calls.append((tenant_id, [str(e["id"]) for e in events]))],
    )
    return calls


def test_the_live_stream_is_a_consumer():
    assert after_commit._live_stream in after_commit.CONSUMERS


def test_consumers_run_once_per_request_after_commit(
    parties, consumed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        body = post(parties.client("a_admin"), event_body()).json()
    assert consumed == []  # nothing before COMMIT
    for callback in callbacks:
        callback()
    assert consumed == [("tenant-a", [body["id"]])]


def test_a_bulk_request_is_one_call_with_every_new_row(
    parties, consumed, django_capture_on_commit_callbacks
):
    items = [event_body(id=str(uuid.uuid4())) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = parties.client("a_admin").post(
            "/api/v1/logs/bulk",
            {"tenant_id": "tenant-a", "events": items + items[:1]},
            format="json",
        )
    assert response.status_code == 201
    assert consumed == [("tenant-a", [item["id"] for item in items])]


def test_a_failing_consumer_does_not_fail_the_request_nor_the_others(
    parties, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    calls = []

    def broken(tenant_id, events):
        raise RuntimeError("boom")

    monkeypatch.setattr(after_commit, "CONSUMERS", [broken, lambda t, e: calls.append(t)])
    with django_capture_on_commit_callbacks(execute=True):
        response = post(parties.client("a_admin"), event_body())
    assert response.status_code == 201
    assert calls == ["tenant-a"]
    assert "after-commit consumer broken failed" in caplog.text


def test_no_call_for_a_duplicate(parties, consumed, django_capture_on_commit_callbacks):
    client = parties.client("a_admin")
    payload = event_body(id=str(uuid.uuid4()))
    post(client, payload)
    consumed.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, payload).status_code == 200
    assert consumed == []
