"""Every field rule of the contract: a clear 400 naming the field, never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from logs.validation.checks import check_json_object, check_timestamp, json_depth
from tests.logs.conftest import event_body

pytestmark = pytest.mark.django_db


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


BAD = [
    ("id", "not-a-uuid"),
    ("id", 123),
    ("tenant_id", 5),
    ("timestamp", "2026-01-01T00:00:00"),  # naive
    ("timestamp", "yesterday"),
    ("timestamp", 1700000000),
    ("timestamp", "0001-01-01T00:00:00+05:00"),  # overflows when made UTC
    # far in the future: computed at import, it must stay future through a long run
    ("timestamp", (datetime.now(UTC) + timedelta(days=2)).isoformat()),
    ("user_id", ""),
    ("user_id", None),
    ("user_id", "x" * 256),
    ("user_id", "nul\x00byte"),
    ("user_id", ["list"]),
    ("session_id", "s" * 256),
    ("session_id", "tab\there"),
    ("action", "9LIVES"),
    ("action", "has space"),
    ("action", "A" * 65),
    ("action", "ıNFO"),  # dotless i upper-cases to ASCII I: still refused
    ("action", None),
    ("action", 7),
    ("resource_type", ""),
    ("resource_type", "r" * 129),
    ("resource_id", "r" * 256),
    ("severity", "LOUD"),
    ("severity", 3),
    ("ip_address", "999.0.0.1"),
    ("ip_address", "fe80::1%eth0"),
    ("ip_address", "localhost"),
    ("ip_address", 10),
    ("user_agent", "u" * 1025),
    ("user_agent", "bell\x07"),
    ("message", "m" * 8193),
    ("message", "nul\x00"),
    ("message", "escape\x1b[31m"),
    ("message", "lone \ud800 surrogate"),
    ("request_id", "r" * 129),
    ("request_id", "c1\x85control"),
    ("before", "not an object"),
    ("before", [1, 2]),
    ("after", {"big": "x" * (64 * 1024)}),
    ("metadata", {"nul": "a\x00b"}),
    ("metadata", {"key\x00": 1}),
    ("metadata", {"n": float("1e308") * 10}),
    ("metadata", deep(40)),
    ("received_at", "2026-01-01T00:00:00Z"),
    ("colour", "blue"),
]


@pytest.mark.parametrize(("field", "value"), BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_field_is_400_naming_it(parties, field, value):
    # Raw JSON: escapes lone surrogates, and spells an infinite float 1e999 (valid
    # JSON that Python parses to inf).
    raw = json.dumps(event_body(**{field: value})).replace("Infinity", "1e999")
    response = parties.client("a_admin").post("/api/v1/logs", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    "raw",
    [b"", b"{not json", b"[1, 2", b'"a string"', b"[" * 5000 + b"]" * 5000, b'{"a": NaN}'],
)
def test_malformed_json_is_400(parties, raw):
    response = parties.client("a_admin").post("/api/v1/logs", raw, content_type="application/json")
    assert response.status_code == 400


def test_wrong_content_type_is_415(parties):
    response = parties.client("a_admin").post(
        "/api/v1/logs", "user_id=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415


def test_body_over_the_limit_is_413(parties, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = event_body(message="m" * 4000)
    assert parties.client("a_admin").post("/api/v1/logs", body, format="json").status_code == 413


def test_message_keeps_tabs_and_newlines(parties):
    body = event_body(message="a\tb\nc\r\nd")
    response = parties.client("a_admin").post("/api/v1/logs", body, format="json")
    assert response.json()["message"] == "a\tb\nc\r\nd"


def test_json_nul_check_ignores_an_escaped_backslash():
    assert check_json_object({"text": "\\u0000 is how JSON spells NUL"})


def test_json_depth_limit_is_exact():
    assert json_depth(deep(32)) == 32
    assert check_json_object(deep(32))


def test_timestamp_accepts_z_and_offsets():
    now = datetime.now(UTC)
    assert check_timestamp("2026-01-01T00:00:00Z", now).tzinfo is UTC
    assert check_timestamp("2026-01-01T02:00:00+02:00", now) == datetime(2026, 1, 1, tzinfo=UTC)
    assert check_timestamp((now + timedelta(minutes=4)).isoformat(), now)
