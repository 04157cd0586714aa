"""GET /api/v1/logs/export: formats, chunked streaming, CSV safety, access event, scoping."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncClient

from logs import wire
from tests.logs.conftest import at, event_body, seed, stored

URL = "/api/v1/logs/export"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_chunks(settings):
    settings.EXPORT_CHUNK_SIZE = 2  # every export of 3+ rows spans several chunks


def download(client, headers=None, **params):
    response = client.get(URL, params, headers=headers)
    assert response.status_code == 200, response.json()
    assert response.streaming
    return response, b"".join(response.streaming_content).decode("utf-8")


def rows_of(fmt: str, text: str) -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text)))
    if fmt == "json":
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines()]


def five_events(parties) -> list[str]:
    return seed(
        parties,
        "tenant-a",
        [event_body(timestamp=at(10 - i), message=f"event {i}") for i in range(5)],
    )


@pytest.mark.parametrize("fmt", ["csv", "json", "ndjson"])
def test_every_format_exports_every_row_across_chunks(parties, fmt):
    ids = five_events(parties)
    response = parties.client("a_auditor").get(URL, {"format": fmt})
    blocks = list(response.streaming_content)
    assert len(blocks) >= 3  # 5 rows in chunks of 2: streamed, not built in one piece
    rows = rows_of(fmt, b"".join(blocks).decode())
    assert [row["id"] for row in rows] == list(reversed(ids))  # newest first
    assert [row["message"] for row in rows][0] == "event 4"


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("csv", "text/csv; charset=utf-8"),
        ("json", "application/json"),
        ("ndjson", "application/x-ndjson"),
    ],
)
def test_content_type_and_attachment_name(parties, fmt, content_type):
    response, _ = download(parties.client("a_auditor"), format=fmt)
    assert response["Content-Type"] == content_type
    assert re.fullmatch(
        rf'attachment; filename="auditlog-tenant-a-\d{{8}}T\d{{6}}Z\.{fmt}"',
        response["Content-Disposition"],
    )
    assert response["Cache-Control"] == "no-store"


def test_csv_is_the_default_format(parties):
    response, text = download(parties.client("a_auditor"))
    assert response["Content-Type"].startswith("text/csv")
    assert text.startswith("id,tenant_id,timestamp,")


@pytest.mark.parametrize(("fmt", "empty"), [("csv", None), ("json", []), ("ndjson", "")])
def test_empty_export_is_valid(parties, fmt, empty):
    _, text = download(parties.client("a_auditor"), format=fmt)
    if fmt == "csv":
        assert text.splitlines() == [",".join(next(csv.reader(io.StringIO(text))))]
        assert list(csv.DictReader(io.StringIO(text))) == []
    elif fmt == "json":
        assert json.loads(text) == empty
    else:
        assert text == empty


def test_csv_quotes_commas_quotes_and_newlines(parties):
    message = 'a, "quoted"\nsecond line\r\n\tend'
    seed(parties, "tenant-a", [event_body(message=message, resource_id="r,1")])
    _, text = download(parties.client("a_auditor"), format="csv")
    (row,) = rows_of("csv", text)
    assert row["message"] == message
    assert row["resource_id"] == "r,1"


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralises_formulas(parties, prefix):
    # Only `message` may hold tab and carriage return; other strings refuse them.
    other = prefix if prefix not in "\t\r" else "="
    seed(
        parties,
        "tenant-a",
        [event_body(message=prefix + "SUM(A1)", user_id=other + "cmd", resource_id="x=1")],
    )
    _, text = download(parties.client("a_admin"), format="csv", resource_type="session")
    (row,) = rows_of("csv", text)
    assert row["message"] == "'" + prefix + "SUM(A1)"
    assert row["user_id"] == "'" + other + "cmd"
    assert row["resource_id"] == "x=1"


def test_csv_cell_rules():
    cells = (None, "", "=1+2", "safe = text", '{"a": "-x"}')
    header, row = list(csv.reader(io.StringIO("".join(wire.encode_csv([[cells]])))))
    assert header == list(wire.EVENT_FIELDS)
    assert row == ["", "", "'=1+2", "safe = text", '{"a": "-x"}']


def test_json_formats_keep_nested_objects_and_csv_has_jsonb_text(parties):
    nested = {"a": [1, {"b": "x, y"}], "c": None}
    seed(parties, "tenant-a", [event_body(metadata=nested, before={"k": "=v"}, after={})])
    client = parties.client("a_auditor")
    (csv_row,) = rows_of("csv", download(client, format="csv", action="LOGIN")[1])
    # PostgreSQL's jsonb text (a space after `:` and `,`): valid JSON, written as stored.
    assert csv_row["metadata"] == '{"a": [1, {"b": "x, y"}], "c": null}'
    assert json.loads(csv_row["metadata"]) == nested
    assert csv_row["before"] == '{"k": "=v"}'  # starts with "{": not a formula
    assert csv_row["after"] == "{}"
    assert csv_row["session_id"] == ""
    for fmt in ("json", "ndjson"):
        (row,) = rows_of(fmt, download(client, format=fmt, action="LOGIN")[1])
        assert row["metadata"] == nested
        assert row["session_id"] is None


def test_json_rows_have_the_shape_of_the_list_endpoint(parties):
    seed(parties, "tenant-a", [event_body(ip_address="10.0.0.1")])
    client = parties.client("a_auditor")
    listed = client.get("/api/v1/logs").json()["results"]
    search, exported = rows_of("ndjson", download(client, format="ndjson")[1])
    assert search["action"] == "SEARCH"  # the list's access event, newer
    assert exported == listed[0]


def test_filters_and_ordering_apply(parties):
    seed(
        parties,
        "tenant-a",
        [
            event_body(action="login", severity="ERROR", timestamp=at(30)),
            event_body(action="login", severity="INFO", timestamp=at(20)),
            event_body(action="logout", severity="ERROR", timestamp=at(10)),
            event_body(action="login", severity="ERROR", timestamp=at(5)),
        ],
    )
    client = parties.client("a_auditor")
    _, text = download(
        client, format="json", action="LOGIN", severity="error", ordering="timestamp"
    )
    rows = rows_of("json", text)
    assert [(r["action"], r["severity"]) for r in rows] == [("LOGIN", "ERROR")] * 2
    assert rows[0]["timestamp"] < rows[1]["timestamp"]
    _, text = download(client, format="json", start_time=at(15), end_time=at(1))
    assert [r["action"] for r in rows_of("json", text)] == ["LOGIN", "LOGOUT"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"format": "xml"}, "format"),
        ({"severity": "LOUD"}, "severity"),
        ({"start_time": "2026-01-01T00:00:00"}, "start_time"),
        ({"ordering": "user_id"}, "ordering"),
        ({"page_size": "10"}, "page_size"),
        ({"acton": "LOGIN"}, "acton"),
    ],
)
def test_bad_parameters_answer_400_before_streaming_and_record_nothing(parties, params, field):
    response = parties.client("a_auditor").get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert stored() == []


def test_the_export_is_recorded_as_an_access_event(parties):
    five_events(parties)
    client = parties.client("a_auditor")
    _, text = download(
        client, {"User-Agent": "curl/8\x07"}, format="ndjson", action="login", severity="INFO"
    )
    assert all(row["action"] == "LOGIN" for row in rows_of("ndjson", text))
    (record,) = rows_of("ndjson", download(client, format="ndjson", action="EXPORT")[1])
    assert record["user_id"] == "arthur"
    assert record["tenant_id"] == "tenant-a"
    assert record["resource_type"] == "audit_log"
    assert record["severity"] == "INFO"
    assert record["ip_address"] == "127.0.0.1"
    assert record["user_agent"] == "curl/8"  # control characters dropped
    assert record["category"] == "access"
    assert record["metadata"] == {
        "format": "ndjson",
        "ordering": "-timestamp",
        "filters": {"action": "login", "severity": "INFO"},
        "results": None,  # streamed: not known when the export is accepted
        "role": "auditor",
        "via": "api",
    }


def test_an_export_does_not_contain_its_own_access_event(parties):
    client = parties.client("a_admin")
    assert rows_of("json", download(client, format="json")[1]) == []
    (previous,) = rows_of("json", download(client, format="json")[1])
    assert previous["action"] == "EXPORT"  # earlier exports are events like any other
    assert [e["action"] for e in stored("tenant-a")] == ["EXPORT", "EXPORT"]


def test_user_role_exports_only_its_own_events(parties):
    seed(parties, "tenant-a", [event_body(user_id="ursula"), event_body(user_id="someone")])
    _, text = download(parties.client("a_user"), format="json")
    assert [row["user_id"] for row in rows_of("json", text)] == ["ursula"]
    _, text = download(parties.client("a_user"), format="json", user_id="someone")
    assert rows_of("json", text) == []


def test_tenants_never_mix(parties):
    seed(parties, "tenant-a", [event_body()])
    seed(parties, "tenant-b", [event_body(tenant_id="tenant-b", user_id="bob")])
    _, text = download(parties.client("platform_admin"), format="json", tenant_id="tenant-b")
    assert [row["tenant_id"] for row in rows_of("json", text)] == ["tenant-b"]
    _, text = download(parties.client("b_admin"), format="json")
    assert {row["tenant_id"] for row in rows_of("json", text)} == {"tenant-b"}


@pytest.mark.parametrize("name", ["a_auditor", "outsider"])
def test_another_tenant_is_refused_like_a_missing_one(parties, name):
    client = parties.client(name)
    other = client.get(URL, {"tenant_id": "tenant-b", "format": "csv"})
    missing = client.get(URL, {"tenant_id": "no-such-tenant", "format": "csv"})
    assert other.status_code == missing.status_code == 403
    assert other.json() == missing.json()
    assert other["Content-Type"] == "application/problem+json"
    assert stored("tenant-b") == []


def test_anonymous_is_401(parties):
    response = parties.client(None).get(URL, {"format": "csv"})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.django_db(transaction=True)
def test_streams_after_the_request_committed_in_a_transaction_of_its_own(parties):
    """Outside a test transaction, as in production: the body is read after the
    request's COMMIT, so the stream must activate the tenant again (RLS shows
    nothing otherwise), and leaves no transaction or tenant behind."""
    five_events(parties)
    response = parties.client("a_auditor").get(URL, {"format": "ndjson"})
    assert response.status_code == 200
    assert not connection.in_atomic_block
    assert stored() and len(stored()) == 6  # the EXPORT event is committed before streaming
    assert len(rows_of("ndjson", b"".join(response.streaming_content).decode())) == 5
    response.close()
    assert not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('app.tenant_id', true), '')")
        assert cursor.fetchone()[0] == ""


def test_under_asgi_the_export_is_streamed_block_by_block(parties):
    """Django reads a sync iterator whole under ASGI; the view hands it an async one."""
    five_events(parties)
    token = parties.client("a_auditor")._credentials["HTTP_AUTHORIZATION"]

    async def export_blocks():
        response = await AsyncClient().get(
            URL, {"format": "ndjson"}, headers={"Authorization": token}
        )
        assert response.status_code == 200
        assert response.is_async
        return [block async for block in response]

    blocks = async_to_sync(export_blocks)()
    assert len(blocks) >= 3  # one per chunk of 2 rows, not one list of everything
    assert len(rows_of("ndjson", b"".join(blocks).decode())) == 5


def test_an_unparseable_client_address_is_left_out_of_the_access_event(parties):
    client = parties.client("a_auditor")
    response = client.get(URL, {"format": "ndjson"}, REMOTE_ADDR="unix:socket")
    assert response.status_code == 200
    (record,) = rows_of("ndjson", download(client, format="ndjson")[1])
    assert record["ip_address"] is None


def test_a_failure_mid_stream_truncates_the_body_and_is_logged(parties, monkeypatch, caplog):
    five_events(parties)

    def failing(chunks):
        for chunk in chunks:
            yield f"{len(chunk)} rows\n"
            raise RuntimeError("encoder broke")

    broken = dataclasses.replace(wire.FORMATS["ndjson"], encode=failing)
    monkeypatch.setitem(wire.FORMATS, "ndjson", broken)
    response = parties.client("a_auditor").get(URL, {"format": "ndjson"})
    content = iter(response.streaming_content)
    assert next(content) == b"2 rows\n"  # headers and a first block are out already
    with pytest.raises(RuntimeError):
        next(content)
    assert "failed mid-stream" in caplog.text
