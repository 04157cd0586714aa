"""Export rows are formatted by PostgreSQL (logs.wire.EXPORT_COLUMNS): they must
equal what the list endpoint returns, for every kind of value; byte for byte but for
nested JSON, which is written as PostgreSQL's jsonb text."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

from logs.export import export_queryset
from logs.models import Event
from tenants.scoping import activate
from tests.logs.conftest import event_body, seed

URL = "/api/v1/logs/export"
pytestmark = pytest.mark.django_db

KOLKATA = timezone(timedelta(hours=5, minutes=30))
ST_JOHNS = timezone(-timedelta(hours=3, minutes=30))


def local_time(minutes_ago: int, zone: timezone, microsecond: int) -> str:
    moment = datetime.now(UTC).replace(microsecond=microsecond) - timedelta(minutes=minutes_ago)
    return moment.astimezone(zone).isoformat()


def utc_text(iso: str) -> str:
    """What the API writes for an input time: `datetime.isoformat` in UTC, with Z."""
    return datetime.fromisoformat(iso).astimezone(UTC).isoformat().replace("+00:00", "Z")


NESTED = {
    "ключ": "значение ✓",
    "emoji": "😀",
    "n": 1.5,
    "small": 1.5e-07,  # jsonb writes 0.00000015: another spelling of the same number
    "big": 12345678901234567890,
    "list": [1, None, True, {"x": "a, b", "y": 'quote " and \\ backslash'}],
    "text": "line\nbreak\ttab",
}
VARIED = [
    event_body(  # whole second, an offset east of UTC, IPv4
        timestamp=local_time(50, KOLKATA, 0),
        ip_address="10.0.0.1",
        message="plain",
    ),
    event_body(  # microseconds, an offset west of UTC with minutes, IPv6, unicode, nesting
        timestamp=local_time(40, ST_JOHNS, 5),
        ip_address="2001:DB8::1",
        user_agent="Mozilla/5.0 ✓ 日本",
        message='héllo 日本 😀\ttab\nline "q" \\ back',
        metadata=NESTED,
        before={"k": "=v"},
        after={},
    ),
    event_body(  # IPv4-mapped IPv6, every optional string set, formula cells
        timestamp=local_time(30, UTC, 999999),
        ip_address="::ffff:10.0.0.1",
        session_id="s-1",
        resource_id="=r-1",
        request_id="+req-1",
        user_id="@someone",
        severity="ERROR",
    ),
    event_body(timestamp=local_time(20, UTC, 123000)),  # optional fields all null
]


@pytest.fixture
def varied(parties) -> list[dict]:
    """The VARIED events as the list endpoint returns them, newest first."""
    seed(parties, "tenant-a", VARIED)
    listed = parties.client("a_auditor").get("/api/v1/logs", {"page_size": 10}).json()
    assert len(listed["results"]) == len(VARIED)
    return listed["results"]


def export_text(parties, fmt: str) -> str:
    # The clients' events only: the list read of `varied` is a SEARCH access event.
    response = parties.client("a_auditor").get(URL, {"format": fmt, "category": "application"})
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8")


def test_ndjson_lines_are_the_list_rows(parties, varied):
    lines = export_text(parties, "ndjson").splitlines()
    assert [json.loads(line) for line in lines] == varied  # same keys, order and values
    # Compact but for nested JSON, which is PostgreSQL's jsonb text as stored.
    without_nested = [{**row, "before": None, "after": None, "metadata": None} for row in varied]
    expected = [
        json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in without_nested
    ]
    nested = [
        ",".join(f'"{name}":{jsonb_text(row[name])}' for name in ("before", "after", "metadata"))
        for row in varied
    ]
    for line, compact, jsonb in zip(lines, expected, nested, strict=True):
        assert line == compact.replace('"before":null,"after":null,"metadata":null', jsonb)


def jsonb_text(value: object) -> str:
    """What PostgreSQL writes for a jsonb value (in this test's data: keys sorted as jsonb
    stores them, short keys first, and a space after `:` and `,`)."""
    if value is None:
        return "null"
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json.dumps(value)])
        return cursor.fetchone()[0]


def test_json_array_holds_the_list_rows(parties, varied):
    assert json.loads(export_text(parties, "json")) == varied


def test_times_are_utc_with_z_whatever_the_input_offset(parties, varied):
    exported = [row["timestamp"] for row in json.loads(export_text(parties, "json"))]
    expected = [utc_text(event["timestamp"]) for event in reversed(VARIED)]
    assert exported == expected
    assert "." not in exported[3]  # a whole second: no `.000000`, as isoformat()
    assert exported[2].endswith(".000005Z")
    assert exported[0].endswith(".123000Z")


def test_ip_addresses_are_written_without_a_prefix_length(parties, varied):
    rows = json.loads(export_text(parties, "json"))
    assert [row["ip_address"] for row in rows] == [
        None,
        "::ffff:10.0.0.1",
        "2001:db8::1",
        "10.0.0.1",
    ]


def csv_expected(value: object) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else jsonb_text(value)
    return "'" + text if text[:1] in "=+-@\t\r" else text


def test_csv_cells_are_the_list_values(parties, varied):
    rows = list(csv.DictReader(io.StringIO(export_text(parties, "csv"), newline="")))
    assert rows == [{name: csv_expected(value) for name, value in row.items()} for row in varied]
    nested = rows[2]  # the second event, newest first
    assert json.loads(nested["metadata"]) == NESTED  # nested JSON cells are valid JSON
    assert nested["after"] == "{}"
    assert rows[1]["resource_id"] == "'=r-1"
    assert rows[1]["user_id"] == "'@someone"


def test_export_times_do_not_depend_on_the_session_time_zone(parties, varied):
    with transaction.atomic():
        activate("tenant-a")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL TIME ZONE 'America/St_Johns'")
        scope = Event.objects.filter(tenant_id="tenant-a")
        rows = list(export_queryset(scope=scope, params={"category": "application"}))
    assert [row[2] for row in rows] == [row["timestamp"] for row in varied]
    assert [row[3] for row in rows] == [row["received_at"] for row in varied]
