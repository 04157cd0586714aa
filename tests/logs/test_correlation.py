"""GET /api/v1/logs/correlation: every event of one request or session, oldest
first, in the caller's tenant and role only; bad parameters named; the read
recorded; the session lookup indexed."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.logs.conftest import at, event_body, seed
from tests.logs.test_access_events import access_events

pytestmark = pytest.mark.django_db

URL = "/api/v1/logs/correlation"


def timeline(parties, tenant: str = "tenant-a") -> list[str]:
    """A request (req-1) over three actors, another request, and a session."""
    events = [
        event_body(tenant_id=tenant, user_id="bob", request_id="req-1", timestamp=at(3)),
        event_body(tenant_id=tenant, user_id="ursula", request_id="req-1", timestamp=at(5)),
        event_body(tenant_id=tenant, user_id="alice", request_id="req-1", timestamp=at(1),
                   after={"status": "paid"}),
        event_body(tenant_id=tenant, user_id="ursula", request_id="req-2", timestamp=at(2)),
        event_body(tenant_id=tenant, user_id="ursula", session_id="sess-9", timestamp=at(4)),
        event_body(tenant_id=tenant, user_id="bob", session_id="sess-9", timestamp=at(6)),
    ]  # fmt: skip
    return seed(parties, tenant, events)


def test_a_request_is_its_events_oldest_first_with_its_span_and_actors(parties):
    ids = timeline(parties)
    foreign = timeline(parties, "tenant-b")  # the same request id in another tenant
    answer = parties.client("a_auditor").get(URL, {"tenant_id": "tenant-a", "request_id": "req-1"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert [e["id"] for e in body["events"]] == [ids[1], ids[0], ids[2]]  # by timestamp
    assert not set(foreign) & {e["id"] for e in body["events"]}
    assert body["first"] == body["events"][0]["timestamp"]
    assert body["last"] == body["events"][-1]["timestamp"]
    assert body["actors"] == ["alice", "bob", "ursula"]
    assert (body["field"], body["value"], body["truncated"]) == ("request_id", "req-1", False)
    assert body["events"][-1]["after"] == {"status": "paid"}  # sealed at rest, opened here


def test_a_session_is_its_events(parties):
    ids = timeline(parties)
    answer = parties.client("a_admin").get(URL, {"tenant_id": "tenant-a", "session_id": "sess-9"})
    assert answer.status_code == 200, answer.content
    assert [e["id"] for e in answer.json()["events"]] == [ids[5], ids[4]]
    empty = parties.client("a_admin").get(URL, {"tenant_id": "tenant-a", "session_id": "none"})
    assert empty.json() | {"value": None} == {
        "field": "session_id", "value": None, "events": [], "first": None, "last": None,
        "actors": [], "truncated": False,
    }  # fmt: skip


def test_the_user_role_sees_only_its_own_events(parties):
    ids = timeline(parties)
    answer = parties.client("a_user").get(URL, {"tenant_id": "tenant-a", "request_id": "req-1"})
    assert answer.status_code == 200, answer.content
    assert [e["id"] for e in answer.json()["events"]] == [ids[1]]
    assert answer.json()["actors"] == ["ursula"]


def test_another_tenant_is_refused_and_never_shown(parties):
    timeline(parties)
    refused = parties.client("b_admin").get(URL, {"tenant_id": "tenant-a", "request_id": "req-1"})
    assert refused.status_code == 403
    own = parties.client("b_admin").get(URL, {"request_id": "req-1"})
    assert own.status_code == 200 and own.json()["events"] == []
    outsider = parties.client("outsider").get(URL, {"tenant_id": "tenant-a", "request_id": "r"})
    assert outsider.status_code == 403
    assert parties.client(None).get(URL, {"request_id": "r"}).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "request_id"),
        ({"request_id": "a", "session_id": "b"}, "request_id"),
        ({"request_id": "x" * 129}, "request_id"),  # as the list's filters check them
        ({"session_id": "x" * 256}, "session_id"),
        ({"request_id": "a\x00b"}, "request_id"),
        ({"session_id": "tab\tnot allowed"}, "session_id"),
        ({"request_id": "a", "user_id": "bob"}, "user_id"),
    ],
)
def test_bad_parameters_are_named(parties, params, field):
    answer = parties.client("a_admin").get(URL, {"tenant_id": "tenant-a", **params})
    assert answer.status_code == 400, answer.content
    assert {e["field"] for e in answer.json()["errors"]} == {field}  # NUL: two messages


def test_more_than_the_cap_lists_the_oldest_and_says_so(parties, settings):
    settings.CORRELATION_MAX_EVENTS = 2
    ids = timeline(parties)
    answer = parties.client("a_admin").get(URL, {"tenant_id": "tenant-a", "request_id": "req-1"})
    assert [e["id"] for e in answer.json()["events"]] == [ids[1], ids[0]]
    assert answer.json()["truncated"] is True


def test_the_read_is_an_access_event(parties):
    timeline(parties)
    before = len(access_events())
    parties.client("a_auditor").get(URL, {"tenant_id": "tenant-a", "session_id": "sess-9"})
    [event] = access_events()[before:]
    assert (event["action"], event["user_id"]) == ("SEARCH", "arthur")
    assert event["metadata"]["filters"] == {"session_id": "sess-9"}
    assert event["metadata"]["results"] == 2
    assert event["metadata"]["correlation"] == "session_id"


def test_both_lookups_have_a_tenant_led_index_on_every_partition():
    """Declared on the partitioned parent: every daily partition (and the history
    one) carries it, so a lookup never scans a tenant's history."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = 'logs_event'"
        )
        partitions = cursor.fetchone()[0]
        assert partitions > 1
        for field, columns in (
            ("request_id", "tenant_id, request_id"),
            ("session_id", 'tenant_id, session_id, "timestamp", id'),
        ):
            cursor.execute(
                "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'logs_event%%' "
                "AND indexdef LIKE %s",
                [f"%({columns}) WHERE ({field} IS NOT NULL)%"],
            )
            assert cursor.fetchone()[0] == partitions + 1, field  # and the parent's own
