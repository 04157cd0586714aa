import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthz_answers_while_the_process_runs(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_postgresql_redis_and_queue_answer(client, sqs_queues):
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "postgresql": "up",
        "redis": "up",
        "queue": "up",
    }


def test_readyz_names_redis_when_it_is_down(client, sqs_queues):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["status"] == "down"
    assert body["checks"]["postgresql"]["status"] == "up"
    assert body["checks"]["queue"]["status"] == "up"


def test_readyz_names_the_queue_when_sqs_is_down(client):
    with override_settings(SQS_ENDPOINT_URL="http://127.0.0.1:1"):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["checks"]["queue"]["status"] == "down"
    assert body["checks"]["redis"]["status"] == "up"


def test_readyz_names_the_queue_when_the_queue_is_missing(client):
    with override_settings(SQS_QUEUE_PREFIX="no-such-prefix-"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert "QueueDoesNotExist" in response.json()["checks"]["queue"]["error"]


def test_readyz_names_postgresql_when_it_is_down(client, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OSError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["postgresql"]["status"] == "down"
