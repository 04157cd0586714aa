"""Issue 9: forged actors are refused; crafted cursors and stats windows at the ends of
the calendar are a 4xx or a correct 200, never a 500."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from tests.logs.conftest import at, event_body, seed, stored

pytestmark = pytest.mark.django_db


# Forged actors: the `user` role records only its own actions.


def test_the_user_role_cannot_record_an_event_as_someone_else(parties):
    response = parties.client("a_user").post(
        "/api/v1/logs", event_body(user_id="alice"), format="json"
    )
    assert response.status_code == 403
    body = response.json()
    assert body["type"].endswith("/forbidden")
    assert "user_id" in body["detail"]
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("user_id", "not_own_actor")]
    assert stored() == []


def test_one_forged_item_refuses_the_whole_bulk_and_names_it(parties):
    items = [event_body(), event_body(user_id="alice"), event_body(), event_body(user_id="bob")]
    response = parties.client("a_user").post(
        "/api/v1/logs/bulk", {"tenant_id": "tenant-a", "events": items}, format="json"
    )
    assert response.status_code == 403
    assert [e["field"] for e in response.json()["errors"]] == [
        "events[1].user_id",
        "events[3].user_id",
    ]
    assert stored() == []


def test_the_user_role_records_its_own_actions(parties):
    client = parties.client("a_user")
    assert client.post("/api/v1/logs", event_body(), format="json").status_code == 201
    bulk = {"tenant_id": "tenant-a", "events": [event_body(), event_body()]}
    assert client.post("/api/v1/logs/bulk", bulk, format="json").status_code == 201
    assert {row["user_id"] for row in stored()} == {"ursula"}


@pytest.mark.parametrize("writer", ["a_admin", "platform_admin"])
def test_roles_that_write_for_others_still_may(parties, writer):
    response = parties.client(writer).post(
        "/api/v1/logs", event_body(user_id="service-account"), format="json"
    )
    assert response.status_code == 201
    bulk = {"tenant_id": "tenant-a", "events": [event_body(user_id="someone")]}
    assert parties.client(writer).post("/api/v1/logs/bulk", bulk, format="json").status_code == 201


# Crafted cursors.


def cursor(stamp: str, event_id: uuid.UUID, direction: str = "n") -> str:
    raw = f"{direction}|{stamp}|{event_id.hex}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def test_a_cursor_time_with_any_offset_is_the_same_position(parties):
    seed(parties, "tenant-a", [event_body(timestamp=at(50 - i)) for i in range(5)])
    client = parties.client("a_auditor")
    first = client.get("/api/v1/logs", {"page_size": 2}).json()["results"]
    last = first[-1]
    # The same instant written with +16:00: PostgreSQL itself refuses offsets past 15:59.
    moment = datetime.fromisoformat(last["timestamp"]).astimezone(timezone(timedelta(hours=16)))
    assert moment.isoformat().endswith("+16:00")
    crafted = cursor(moment.isoformat(), uuid.UUID(last["id"]))
    response = client.get("/api/v1/logs", {"page_size": 2, "cursor": crafted})
    assert response.status_code == 200
    expected = client.get(
        "/api/v1/logs", {"page_size": 2, "cursor": cursor(last["timestamp"], uuid.UUID(last["id"]))}
    )
    assert response.json()["results"] == expected.json()["results"] != []


@pytest.mark.parametrize(
    "stamp",
    [
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-16:00",  # after year 9999 in UTC
        "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00",  # no offset
        "2026-13-01T00:00:00Z",
    ],
)
def test_a_cursor_whose_time_is_out_of_range_or_invalid_is_400(parties, stamp):
    response = parties.client("a_auditor").get(
        "/api/v1/logs", {"cursor": cursor(stamp, uuid.uuid4())}
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


# Stats windows at the ends of the calendar.

FIRST, LAST = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"


@pytest.mark.parametrize("reader", ["a_auditor", "a_user"])  # the rollup path and the raw path
@pytest.mark.parametrize(
    ("params", "counted"),
    [
        ({"end_time": FIRST}, False),
        ({"end_time": FIRST, "bucket": "hour"}, False),
        ({"end_time": "0001-01-20T00:00:00Z"}, False),
        ({"end_time": LAST}, False),
        ({"start_time": LAST}, False),
        ({"start_time": "9999-12-31T22:30:00Z", "end_time": LAST}, False),
        ({"start_time": FIRST}, True),
        ({"start_time": FIRST, "end_time": LAST}, True),
        ({"start_time": FIRST, "end_time": LAST, "bucket": "hour"}, True),
    ],
)
def test_stats_windows_at_year_1_and_9999_are_answered_exactly(parties, reader, params, counted):
    seed(parties, "tenant-a", [event_body(timestamp=at(30 + i)) for i in range(3)])
    response = parties.client(reader).get("/api/v1/logs/stats", params)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == (3 if counted else 0)
    assert sum(point["count"] for point in body["timeline"]) == body["total"]
