"""Every read of the logs is recorded once, as an `access` event in the tenant read.

List (SEARCH), get (VIEW), export (EXPORT) and stats (STATS) over HTTP in
process; the stream's STREAM_OPEN/STREAM_CLOSE are in test_access_stream.py,
and "never lost" against a killed server in test_access_durability.py.
"""

from __future__ import annotations

import json

import pytest
from django.db import DatabaseError, transaction

from logs import services
from logs.models import Event
from tenants.scoping import activate
from tests.logs.conftest import event_body, seed

URL = "/api/v1/logs"
READERS = ["a_admin", "a_auditor", "a_user", "platform_admin"]
ROLES = {"a_admin": "admin", "a_auditor": "auditor", "a_user": "user"}
ROLES["platform_admin"] = "platform_admin"
USERNAMES = {
    "a_admin": "alice",
    "a_auditor": "arthur",
    "a_user": "ursula",
    "platform_admin": "root",
}


def access_events(tenant_id: str = "tenant-a") -> list[dict]:
    """The tenant's access events, oldest first, read as the application role."""
    with transaction.atomic():
        activate(tenant_id)
        rows = Event.objects.filter(category="access").order_by("received_at", "id")
        return list(rows.values())


def read(client, kind: str, event_id: str):
    """One read request of `kind`, asserting it succeeded; the response."""
    tenant = {"tenant_id": "tenant-a"}
    response = {
        "SEARCH": lambda: client.get(URL, {**tenant, "action": "login", "page_size": "5"}),
        "VIEW": lambda: client.get(f"{URL}/{event_id}", tenant),
        "EXPORT": lambda: client.get(URL + "/export", {**tenant, "format": "json"}),
        "STATS": lambda: client.get(URL + "/stats", {**tenant, "severity": "INFO"}),
    }[kind]()
    assert response.status_code == 200, response.content[:300]
    if kind == "EXPORT":
        b"".join(response.streaming_content)
    return response


@pytest.fixture
def one_event(parties) -> str:
    (event_id,) = seed(parties, "tenant-a", [event_body(user_id="ursula")])
    return event_id


@pytest.mark.parametrize("kind", ["SEARCH", "VIEW", "EXPORT", "STATS"])
@pytest.mark.parametrize("reader", READERS)
def test_each_read_records_exactly_one_access_event(parties, one_event, reader, kind):
    read(parties.client(reader), kind, one_event)
    (event,) = access_events()
    assert event["action"] == kind
    assert event["category"] == "access"
    assert event["resource_type"] == "audit_log"
    assert event["user_id"] == USERNAMES[reader]
    assert event["tenant_id"] == "tenant-a"
    assert event["ip_address"] == "127.0.0.1"
    assert event["metadata"]["role"] == ROLES[reader]
    assert event["metadata"]["via"] == "api"
    assert access_events("tenant-b") == []


def test_the_metadata_holds_the_filters_and_the_number_of_results(parties, one_event):
    seed(parties, "tenant-a", [event_body(action="logout")])
    client = parties.client("a_auditor")
    read(client, "SEARCH", one_event)
    read(client, "VIEW", one_event)
    read(client, "STATS", one_event)
    search, view, stats = access_events()
    assert search["metadata"] == {
        "filters": {"action": "login"},
        "results": 1,
        "role": "auditor",
        "via": "api",
        "ordering": "-timestamp",
        "page_size": "5",
        "cursor": False,
    }
    assert view["resource_id"] == one_event
    assert view["metadata"]["results"] == 1
    assert stats["metadata"]["filters"] == {"severity": "INFO"}
    # The events counted: both LOGINs and the SEARCH and VIEW access events before it.
    assert stats["metadata"]["results"] == 4
    assert stats["metadata"]["bucket"] == "day"


def test_access_events_are_visible_to_admins_and_auditors_and_users_see_their_own(parties):
    for reader in ("a_admin", "a_auditor", "a_user"):
        read(parties.client(reader), "SEARCH", "")
    for reader in ("a_admin", "a_auditor"):
        page = parties.client(reader).get(URL, {"category": "access", "ordering": "timestamp"})
        users = [e["user_id"] for e in page.json()["results"]]
        assert users[:3] == ["alice", "arthur", "ursula"]
    own = parties.client("a_user").get(URL, {"category": "access", "ordering": "timestamp"})
    assert {e["user_id"] for e in own.json()["results"]} == {"ursula"}


def test_reading_the_log_of_reads_is_one_read(parties):
    """No recursion: listing access events records one SEARCH, whatever it returns."""
    client = parties.client("a_auditor")
    for expected in range(4):
        page = client.get(URL, {"category": "access"})
        assert len(page.json()["results"]) == expected
    assert [e["action"] for e in access_events()] == ["SEARCH"] * 4


@pytest.mark.parametrize(
    ("reader", "path", "params", "status"),
    [
        ("a_auditor", URL, {"severity": "LOUD"}, 400),
        ("a_auditor", URL + "/00000000-0000-0000-0000-000000000000", {}, 404),
        ("a_auditor", URL, {"tenant_id": "tenant-b"}, 403),
        ("outsider", URL + "/stats", {"tenant_id": "tenant-a"}, 403),
        (None, URL, {"tenant_id": "tenant-a"}, 401),
    ],
)
def test_refused_reads_record_nothing(parties, reader, path, params, status):
    assert parties.client(reader).get(path, params).status_code == status
    assert access_events() == []
    assert access_events("tenant-b") == []


def test_a_platform_admin_reading_another_tenant_writes_only_there(parties):
    seed(parties, "tenant-b", [event_body(tenant_id="tenant-b", user_id="bob")])
    page = parties.client("platform_admin").get(URL, {"tenant_id": "tenant-b"})
    assert page.status_code == 200
    (event,) = access_events("tenant-b")
    assert (event["user_id"], event["metadata"]["role"]) == ("root", "platform_admin")
    assert access_events("tenant-a") == []


def test_a_read_whose_access_event_cannot_be_stored_fails(parties, monkeypatch):
    """Written before the answer: no access event, no 2xx (and nothing half-done)."""

    def broken(*args, **kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(services, "store_events", broken)
    client = parties.client("a_auditor")
    client.raise_request_exception = False
    for path in (URL, URL + "/stats", URL + "/export"):
        assert client.get(path).status_code == 500
    assert access_events() == []


def test_the_category_filter_applies_to_stats_and_export(parties, one_event):
    client = parties.client("a_auditor")
    read(client, "SEARCH", one_event)
    stats = client.get(URL + "/stats", {"category": "access"}).json()
    assert (stats["total"], stats["by_action"]) == (1, {"SEARCH": 1})
    stats = client.get(URL + "/stats", {"category": "application"}).json()
    assert (stats["total"], stats["by_action"]) == (1, {"LOGIN": 1})
    response = client.get(URL + "/export", {"format": "json", "category": "access"})
    exported = json.loads(b"".join(response.streaming_content))
    assert [row["action"] for row in exported] == ["STATS", "STATS", "SEARCH"]


def test_reads_do_not_use_up_the_write_limits(parties, settings):
    """Access events are stored by the service, not sent through the API's limits."""
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "write": {"user": "1/m", "tenant": "1/m"}}
    client = parties.client("a_admin")
    for _ in range(3):
        assert client.get(URL).status_code == 200
    assert client.post(URL, event_body(), format="json").status_code == 201
