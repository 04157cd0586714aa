"""Masking at ingest, end to end: for every built-in rule and for tenant rules, the
secret is absent from the stored row (read straight from the table), the stream
message (as the channel layer delivers it), the exports (CSV and JSON) and the
service's own logs; the event lists the paths masked."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from logs import stream
from masking import selectors
from tenants.scoping import activate
from tests.logs.conftest import event_body, seed
from tests.masking.test_rules import AWS_KEY_ID, AWS_SECRET, JWT, PEM

pytestmark = pytest.mark.django_db

CARD = "4111 1111 1111 1111"
# (case, extra event fields, the secret that must vanish, path masked, value stored there)
BUILTIN_CASES = [
    ("password key", {"metadata": {"password": "hunter2-Zq9x"}}, "hunter2-Zq9x",
     "metadata.password", "[redacted]"),
    ("nested set-cookie", {"before": {"headers": {"Set-Cookie": "sid=Qm9vW1x"}}}, "sid=Qm9vW1x",
     "before.headers.Set-Cookie", "[redacted]"),
    ("api key in a list", {"after": {"keys": [{"X-Api-Key": "k-77aa91"}]}}, "k-77aa91",
     "after.keys[0].X-Api-Key", "[redacted]"),
    ("card in message", {"message": f"paid with {CARD}"}, "4111 1111 1111 1111",
     "message", "paid with ****1111"),
    ("card number key", {"before": {"user": {"card": "4111111111111111"}}}, "4111111111111111",
     "before.user.card", "****1111"),
    ("card as a number", {"after": {"n": 4111111111111111}}, "4111111111111111",
     "after.n", "****1111"),
    ("bearer in user agent", {"user_agent": f"agent Bearer {JWT}"}, JWT[20:60],
     "user_agent", "agent [bearer]"),
    ("jwt in metadata", {"metadata": {"note": f"got {JWT}"}}, JWT[20:60],
     "metadata.note", "got [jwt]"),
    ("aws key id", {"message": f"key {AWS_KEY_ID}"}, AWS_KEY_ID, "message", "key [aws-key-id]"),
    ("aws secret", {"metadata": {"value": AWS_SECRET}}, AWS_SECRET, "metadata.value",
     "[aws-secret]"),
    ("pem private key", {"before": {"blob": PEM}}, "MIIEowIBAAKCAQEA7", "before.blob",
     "[private-key]"),
]  # fmt: skip


@pytest.fixture
def stream_messages():
    """Subscribe a channel to tenant A's group: what the stream really carries."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(stream.group_name("tenant-a"), channel)

    async def drain() -> list[dict]:
        # Every test here publishes: wait long for the first message (a busy
        # machine, a first connection), briefly for more.
        messages: list[dict] = []
        while True:
            try:
                timeout = 0.5 if messages else 15
                messages.append(await asyncio.wait_for(layer.receive(channel), timeout))
            except TimeoutError:
                return messages

    def received() -> list[dict]:
        stream.publish_flush()
        return async_to_sync(drain)()  # one loop for every receive of the channel

    yield received
    async_to_sync(layer.group_discard)(stream.group_name("tenant-a"), channel)


def row_texts(tenant_id: str = "tenant-a") -> str:
    """Every stored row of the tenant, every column (the search vector too), as text."""
    with transaction.atomic(), connection.cursor() as cursor:
        activate(tenant_id)
        cursor.execute("SELECT e::text FROM logs_event AS e")
        return "\n".join(row[0] for row in cursor.fetchall())


def exported(client, fmt: str) -> str:
    response = client.get("/api/v1/logs/export", {"tenant_id": "tenant-a", "format": fmt})
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def get_path(event: dict, path: str):
    """The value at a path of `masked` (plain names and [index] only)."""
    node: object = event
    for part in path.replace("[", ".[").split("."):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]  # type: ignore[index]
    return node


def assert_nowhere(secrets: list[str], parties, stream_messages, caplog) -> None:
    """None of `secrets` is in the rows, the stream's messages, the exports, the logs."""
    messages = stream_messages()
    assert messages, "the stream carried no message"
    places = {
        "database row": row_texts(),
        "stream": json.dumps(messages),
        "csv export": exported(parties.client("a_auditor"), "csv"),
        "json export": exported(parties.client("a_auditor"), "json"),
        "logs": caplog.text,
    }
    for secret in secrets:
        for place, text in places.items():
            assert secret not in text, f"{secret!r} found in the {place}"


@pytest.mark.parametrize(
    ("extra", "secret", "path", "stored"),
    [case[1:] for case in BUILTIN_CASES],
    ids=[case[0] for case in BUILTIN_CASES],
)
def test_a_built_in_rule_keeps_the_secret_out_of_everything(
    parties,
    stream_messages,
    caplog,
    django_capture_on_commit_callbacks,
    extra,
    secret,
    path,
    stored,
):
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        response = parties.client("a_admin").post(
            "/api/v1/logs", event_body(**extra), format="json"
        )
    assert response.status_code == 201
    body = response.json()
    assert body["masked"] == [path]
    assert get_path(body, path) == stored
    assert secret not in response.content.decode()
    listed = parties.client("a_auditor").get("/api/v1/logs").json()["results"][0]
    assert listed["masked"] == [path]
    assert_nowhere([secret], parties, stream_messages, caplog)


def test_bulk_ingest_masks_every_item(parties, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.DEBUG)
    items = [event_body(id=str(uuid.uuid4()), **case[1]) for case in BUILTIN_CASES]
    with django_capture_on_commit_callbacks(execute=True):
        response = parties.client("a_admin").post(
            "/api/v1/logs/bulk", {"tenant_id": "tenant-a", "events": items}, format="json"
        )
    assert response.status_code == 201 and response.json()["created"] == len(items)
    stored = row_texts()
    for _, _, secret, _, _ in BUILTIN_CASES:
        assert secret not in stored
        assert secret not in caplog.text
    masked = {
        e["id"]: e["masked"]
        for e in parties.client("a_auditor")
        .get("/api/v1/logs", {"page_size": 100})
        .json()["results"]
    }
    assert masked == {
        item["id"]: [case[3]] for item, case in zip(items, BUILTIN_CASES, strict=True)
    }


def test_tenant_rules_keep_their_secrets_out_of_everything(
    parties, stream_messages, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG)
    policy = {
        "key_names": ["employee_ref"],
        "value_patterns": [{"name": "badge", "pattern": r"BDG-[0-9]{5}"}],
        "mask_emails": True,
    }
    admin = parties.client("a_admin")
    assert (
        admin.put("/api/v1/tenants/tenant-a/masking-policy", policy, format="json").status_code
        == 200
    )
    event = event_body(
        message="badge BDG-48213 used by carol.jones@example.org",
        metadata={"employee_ref": "E-99812"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/api/v1/logs", event, format="json")
    body = response.json()
    assert body["message"] == "badge [badge] used by ***@example.org"
    assert body["metadata"] == {"employee_ref": "[redacted]"}
    assert sorted(body["masked"]) == ["message", "metadata.employee_ref"]
    assert_nowhere(["BDG-48213", "carol.jones", "E-99812"], parties, stream_messages, caplog)


def test_a_refused_event_does_not_echo_its_secret(parties, caplog):
    caplog.set_level(logging.DEBUG)
    body = event_body(message=f"card {CARD}", ip_address="not-an-ip", metadata={"password": 5})
    response = parties.client("a_admin").post("/api/v1/logs", body, format="json")
    assert response.status_code == 400
    assert "1111" not in response.content.decode() and "1111" not in caplog.text
    assert row_texts() == ""


def test_a_retry_of_a_masked_event_is_a_duplicate_not_a_conflict(parties):
    client = parties.client("a_admin")
    body = event_body(id=str(uuid.uuid4()), metadata={"password": "hunter2-Zq9x"})
    first = client.post("/api/v1/logs", body, format="json")
    again = client.post("/api/v1/logs", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()


def test_the_content_hash_is_of_the_masked_event(parties):
    # Two writes of one id that differ only in a masked secret are the same
    # stored event: the key holds nothing derived from the secret.
    client = parties.client("a_admin")
    event_id = str(uuid.uuid4())
    first = client.post(
        "/api/v1/logs", event_body(id=event_id, metadata={"password": "one"}), format="json"
    )
    second = client.post(
        "/api/v1/logs", event_body(id=event_id, metadata={"password": "two"}), format="json"
    )
    assert (first.status_code, second.status_code) == (201, 200)


@pytest.mark.parametrize("field", ["masked"])
def test_clients_may_not_send_the_masked_field(parties, field):
    response = parties.client("a_admin").post(
        "/api/v1/logs", event_body(**{field: []}), format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": field, "message": "This field is read-only (server-set).", "code": "read_only"}
    ]


def test_ingest_reads_no_policy_while_the_tenant_version_is_unchanged(parties):
    client = parties.client("a_admin")
    client.put("/api/v1/tenants/tenant-a/masking-policy", {"key_names": ["ref"]}, format="json")
    client.post("/api/v1/logs", event_body(), format="json")  # compiles once
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/v1/logs", event_body(metadata={"ref": "x"}), format="json")
    assert response.json()["metadata"] == {"ref": "[redacted]"}
    assert not [q for q in queries.captured_queries if "masking_maskingpolicy" in q["sql"]]


def test_a_policy_change_takes_effect_at_once_in_a_process_that_cached_the_old_one(parties):
    client = parties.client("a_admin")
    url = "/api/v1/tenants/tenant-a/masking-policy"
    client.put(url, {"key_names": ["ref"]}, format="json")
    assert client.post(
        "/api/v1/logs", event_body(metadata={"ref": "x", "alt": "y"}), format="json"
    ).json()["metadata"] == {"ref": "[redacted]", "alt": "y"}
    client.put(url, {"key_names": ["alt"]}, format="json")
    assert client.post(
        "/api/v1/logs", event_body(metadata={"ref": "x", "alt": "y"}), format="json"
    ).json()["metadata"] == {"ref": "x", "alt": "[redacted]"}
    assert selectors._COMPILED["tenant-a"][0] == 2


def test_the_archive_holds_only_masked_values(parties, archive_bucket):
    from archival.archive import archive_tenant_day
    from tests.archival.conftest import day_events, read_part, some_day

    day = some_day()
    events = day_events(day, len(BUILTIN_CASES))
    for event, case in zip(events, BUILTIN_CASES, strict=True):
        event.update(case[1])
    seed(parties, "tenant-a", events)
    record = archive_tenant_day("tenant-a", day)
    assert record.row_count == len(BUILTIN_CASES)
    rows = [row for part in record.parts for row in read_part(archive_bucket, part["key"])]
    archived = json.dumps(rows, default=str)
    for _, _, secret, path, _ in BUILTIN_CASES:
        assert secret not in archived, path
    assert sorted(json.loads(row["masked"])[0] for row in rows) == sorted(
        case[3] for case in BUILTIN_CASES
    )
