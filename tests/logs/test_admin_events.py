"""The Django admin's read-only view of one tenant's events (logs/admin.py).

Through Django's test client, logged into the admin as a platform
administrator: the listing shows the chosen tenant's events only (row-level
security and, proven alone with it switched off, the application's filter),
searches and filters as the API does, pages by keyset without COUNT or
OFFSET; the detail shows what the API's detail shows; each page shown is one
access event (via admin) in that tenant's log; regular users never reach it,
and nothing can be added, changed or deleted.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from auditlog_project.middleware import PAGE_POLICY
from logs.models import Event
from tenants.models import Tenant
from tenants.scoping import TenantNotAccessible, activate, admin_scope
from tests.encryption.helpers import stored_text
from tests.logs.conftest import at, event_body, seed

LIST = "/admin/logs/event/"
OPERATOR = {"REMOTE_ADDR": "10.9.8.7", "HTTP_USER_AGENT": "ops-browser/1.0"}


def detail(tenant: str, event_id: str | uuid.UUID) -> str:
    return f"/admin/logs/event/{tenant}/{event_id}/"


def access_events(tenant_id: str = "tenant-a") -> list[dict]:
    """The tenant's access events, oldest first, read as the application role."""
    with transaction.atomic():
        activate(tenant_id)
        rows = Event.objects.filter(category="access").order_by("received_at", "id")
        return list(rows.values())


def listed(response) -> list[str]:
    assert response.status_code == 200, response.content[:500]
    rows = response.context["rows"]
    assert rows is not None, response.context["form"].errors
    return [row["id"] for row in rows]


def utc_input(minutes_ago: float) -> str:
    """A time as a datetime-local box sends it (no offset: UTC)."""
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def admin_client(client, parties):
    client.force_login(parties.platform_admin)
    return client


@pytest.fixture
def events(parties) -> dict[str, str]:
    """Three events in tenant A and one in tenant B; their ids by name."""
    a_login, a_error, a_update = seed(
        parties,
        "tenant-a",
        [
            event_body(
                tenant_id=...,
                action="LOGIN",
                message="signed in at the quartz office",
                timestamp=at(30),
            ),
            event_body(
                tenant_id=...,
                action="EXPORT_FAILED",
                severity="ERROR",
                message="disk full",
                resource_id="r-1",
                ip_address="10.0.0.7",
                timestamp=at(20),
            ),
            event_body(
                tenant_id=...,
                user_id="alice",
                action="UPDATE",
                severity="WARNING",
                resource_type="plan",
                before={"plan": "free", "seats": [1, 2]},
                after={"plan": "pro ünïcode", "seats": [1, 2, 3]},
                metadata={"password": "hunter2", "note": "upgrade"},
                timestamp=at(10),
            ),
        ],
    )
    (b_login,) = seed(
        parties,
        "tenant-b",
        [
            event_body(
                tenant_id=..., user_id="bob", action="LOGIN", message="quartz too", timestamp=at(25)
            )
        ],
    )
    return {"a_login": a_login, "a_error": a_error, "a_update": a_update, "b_login": b_login}


def test_nothing_is_read_before_a_tenant_is_chosen(admin_client, events):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    assert response.context["rows"] is None
    assert "Choose a tenant" in response.content.decode()
    assert access_events("tenant-a") == access_events("tenant-b") == []


def test_a_tenant_lists_its_own_events_only_newest_first(admin_client, events):
    a = listed(admin_client.get(LIST, {"tenant": "tenant-a", "category": "application"}))
    assert a == [events["a_update"], events["a_error"], events["a_login"]]
    page = admin_client.get(LIST, {"tenant": "tenant-a"})
    assert events["b_login"] not in page.content.decode()
    assert {row["tenant_id"] for row in page.context["rows"]} == {"tenant-a"}
    b = listed(admin_client.get(LIST, {"tenant": "tenant-b", "category": "application"}))
    assert b == [events["b_login"]]
    # Each row shows the listed columns and links to its detail page.
    text = page.content.decode()
    for shown in ("EXPORT_FAILED", "ERROR", "ursula", "r-1", "10.0.0.7", "application"):
        assert shown in text
    assert f'href="{detail("tenant-a", events["a_error"])}"' in text


@pytest.mark.usefixtures("as_table_owner")  # before the database is opened
def test_the_applications_filter_alone_keeps_tenants_apart(admin_client, events):
    """Row-level security switched off (as the tables' owner, in the test's
    transaction): the listing and the detail still see the chosen tenant only."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE logs_event DISABLE ROW LEVEL SECURITY")
        cursor.execute("ALTER TABLE logs_event_key DISABLE ROW LEVEL SECURITY")
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")
        cursor.execute("SELECT count(*) FROM logs_event")
        assert cursor.fetchone()[0] == 4  # the switch worked: every tenant visible
    a = listed(admin_client.get(LIST, {"tenant": "tenant-a", "category": "application"}))
    assert sorted(a) == sorted([events["a_login"], events["a_error"], events["a_update"]])
    assert admin_client.get(detail("tenant-a", events["b_login"])).status_code == 404
    assert admin_client.get(detail("tenant-b", events["b_login"])).status_code == 200


def test_search_is_the_apis_full_text_search(admin_client, parties, events):
    # Application events only: the access events' metadata holds the words searched.
    query = {"tenant": "tenant-a", "category": "application"}
    found = listed(admin_client.get(LIST, {**query, "q": "quartz"}))
    assert found == [events["a_login"]]  # not B's "quartz too"
    api = parties.client("a_admin").get(
        "/api/v1/logs", {"tenant_id": "tenant-a", "category": "application", "q": "quartz"}
    )
    assert [row["id"] for row in api.json()["results"]] == found
    phrase = listed(admin_client.get(LIST, {**query, "q": '"disk full" -quartz'}))
    assert phrase == [events["a_error"]]
    assert listed(admin_client.get(LIST, {**query, "q": "nowhere"})) == []
    # Without the category, the first search's own access event matches too.
    assert events["a_login"] in listed(
        admin_client.get(LIST, {"tenant": "tenant-a", "q": "quartz"})
    )


def test_filters_on_severity_action_category_and_time(admin_client, events):
    def shown(**filters) -> list[str]:
        query = {"tenant": "tenant-a", "category": "application", **filters}
        return listed(admin_client.get(LIST, query))

    assert shown(severity="ERROR") == [events["a_error"]]
    assert shown(severity="WARNING") == [events["a_update"]]
    assert shown(action="update") == [events["a_update"]]
    assert shown(action="login,export_failed") == [events["a_error"], events["a_login"]]
    assert shown(start_time=utc_input(15)) == [events["a_update"]]
    assert shown(end_time=utc_input(15)) == [events["a_error"], events["a_login"]]
    assert shown(start_time=utc_input(25), end_time=utc_input(15)) == [events["a_error"]]
    assert shown(start_time=at(15)) == [events["a_update"]]  # an offset is accepted too
    # The listings above were recorded; the access category lists those records.
    access = listed(admin_client.get(LIST, {"tenant": "tenant-a", "category": "access"}))
    assert len(access) == 8
    assert {row["action"] for row in access_events()} == {"SEARCH"}


@pytest.mark.parametrize(
    "query, field",
    [
        ({"action": "not an action!"}, "action"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"q": "bad\x01text"}, "q"),
        ({"severity": "LOUD"}, "severity"),
        ({"page_size": "7"}, "page_size"),
        ({"cursor": "not-a-cursor"}, "__all__"),
    ],
)
def test_a_refused_filter_is_shown_and_reads_nothing(admin_client, events, query, field):
    response = admin_client.get(LIST, {"tenant": "tenant-a", **query})
    assert response.status_code == 200
    assert response.context["rows"] is None
    assert field in response.context["form"].errors
    assert access_events() == []


def test_an_unknown_tenant_is_refused(admin_client, events):
    response = admin_client.get(LIST, {"tenant": "tenant-z"})
    assert response.status_code == 200
    assert response.context["rows"] is None
    assert "tenant" in response.context["form"].errors
    assert access_events("tenant-a") == access_events("tenant-b") == []


def test_paging_walks_every_event_without_count_or_offset(admin_client, parties):
    ids = seed(
        parties,
        "tenant-a",
        [event_body(tenant_id=..., action=f"STEP_{i}", timestamp=at(60 - i)) for i in range(23)],
    )
    newest_first = list(reversed(ids))
    query = {"tenant": "tenant-a", "category": "application", "page_size": "10"}
    pages: list[list[str]] = []
    link: str | None = None
    while True:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(f"{LIST}?{link}") if link else admin_client.get(LIST, query)
        pages.append(listed(response))
        reads = [q["sql"].lower() for q in queries if '"logs_event"."id"' in q["sql"]]
        assert len(reads) == 1, reads  # the page: one query, its row past the page included
        assert "count(" not in reads[0] and " offset " not in reads[0], reads[0]
        link = response.context["older"]
        if link is None:
            break
    assert [len(page) for page in pages] == [10, 10, 3]
    assert [event_id for page in pages for event_id in page] == newest_first
    # And back: the last page's "Newer" link gives the page before it.
    back = admin_client.get(f"{LIST}?{response.context['newer']}")
    assert listed(back) == pages[1]
    searches = access_events()
    assert [e["metadata"]["results"] for e in searches] == [10, 10, 3, 10]
    assert [e["metadata"]["cursor"] for e in searches] == [False, True, True, True]


def test_the_detail_shows_the_event_as_the_apis_detail_does(admin_client, parties, events):
    event_id = events["a_update"]
    # Stored sealed (before and after are always encrypted) and masked.
    sealed = stored_text("tenant-a", event_id)
    assert "free" not in sealed["before"] and "hunter2" not in sealed["metadata"]

    response = admin_client.get(detail("tenant-a", event_id))
    assert response.status_code == 200
    shown = response.context["event"]
    api = parties.client("a_admin").get(f"/api/v1/logs/{event_id}", {"tenant_id": "tenant-a"})
    assert shown == api.json()
    assert shown["before"] == {"plan": "free", "seats": [1, 2]}
    assert shown["metadata"]["password"] != "hunter2"
    assert shown["masked"] == ["metadata.password"]
    text = response.content.decode()
    for name in ("before", "after", "metadata"):
        pretty = json.dumps(shown[name], indent=2, ensure_ascii=False)
        assert f"<pre>{html.escape(pretty)}</pre>" in text, name
    assert "hunter2" not in text
    for name in ("id", "tenant_id", "timestamp", "received_at", "user_agent", "request_id"):
        assert f"field-{name}" in text


def test_another_tenants_event_is_404_and_records_nothing(admin_client, events):
    for path in (
        detail("tenant-a", events["b_login"]),
        detail("tenant-b", events["a_login"]),
        detail("tenant-a", uuid.uuid4()),
        detail("tenant-z", events["a_login"]),
    ):
        response = admin_client.get(path)
        assert response.status_code == 404, path
        assert "event" not in response.context
    assert access_events("tenant-a") == access_events("tenant-b") == []
    assert admin_client.get(detail("tenant-b", events["b_login"])).status_code == 200


def test_each_page_records_one_access_event_via_admin_in_its_tenant(admin_client, events):
    query = {"tenant": "tenant-a", "severity": "ERROR", "q": "disk", "page_size": "25"}
    listed(admin_client.get(LIST, query, **OPERATOR))
    (search,) = access_events()
    assert search["action"] == "SEARCH"
    assert search["category"] == "access"
    assert search["resource_type"] == "audit_log"
    assert search["user_id"] == "root"
    assert search["tenant_id"] == "tenant-a"
    assert search["ip_address"] == "10.9.8.7"
    assert search["user_agent"] == "ops-browser/1.0"
    assert search["metadata"] == {
        "filters": {"severity": "ERROR", "q": "disk"},
        "results": 1,
        "role": "platform_admin",
        "via": "admin",
        "ordering": "-timestamp",
        "page_size": "25",
        "cursor": False,
    }

    assert admin_client.get(detail("tenant-a", events["a_error"]), **OPERATOR).status_code == 200
    search_again, view = access_events()
    assert search_again == search
    assert view["action"] == "VIEW"
    assert view["resource_id"] == events["a_error"]
    assert (view["user_id"], view["ip_address"], view["user_agent"]) == (
        "root",
        "10.9.8.7",
        "ops-browser/1.0",
    )
    assert view["metadata"] == {
        "filters": {},
        "results": 1,
        "role": "platform_admin",
        "via": "admin",
    }
    assert access_events("tenant-b") == []


def test_a_deactivated_tenant_can_be_read_and_is_recorded(admin_client, events):
    Tenant.objects.filter(pk="tenant-a").update(is_active=False)
    choice = admin_client.get(LIST).context["form"].fields["tenant"].choices[1]
    assert choice == ("tenant-a", "tenant-a (Tenant A, inactive)")
    found = listed(admin_client.get(LIST, {"tenant": "tenant-a", "category": "application"}))
    assert len(found) == 3
    assert admin_client.get(detail("tenant-a", events["a_login"])).status_code == 200
    assert [e["action"] for e in access_events()] == ["SEARCH", "VIEW"]


@pytest.mark.parametrize("who", ["a_admin", "a_auditor", None])
def test_regular_users_are_sent_to_the_admin_login(client, parties, events, who):
    if who is not None:
        user = getattr(parties, who)
        User.objects.filter(pk=user.pk).update(is_staff=True)  # even staff: superusers only
        client.force_login(user)
    for path in (f"{LIST}?tenant=tenant-a", detail("tenant-a", events["a_login"])):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/admin/login/?next="), response["Location"]
    assert access_events() == []


def test_nothing_can_be_added_changed_or_deleted(admin_client, events):
    event_id = events["a_login"]
    assert admin_client.post(LIST, {"tenant": "tenant-a"}).status_code == 405
    assert admin_client.post(detail("tenant-a", event_id), {"action": "X"}).status_code == 405
    for suffix in (
        "add/",
        f"tenant-a/{event_id}/change/",
        f"tenant-a/{event_id}/delete/",
        f"{event_id}/change/",
        f"{event_id}/delete/",
    ):
        assert admin_client.get(LIST + suffix).status_code == 404, suffix
        assert admin_client.post(LIST + suffix, {"post": "yes"}).status_code == 404, suffix
    assert access_events() == []
    assert admin_client.get(detail("tenant-a", event_id)).status_code == 200  # still there
    index = admin_client.get("/admin/").content.decode()
    assert f'href="{LIST}"' in index
    assert "/admin/logs/event/add/" not in index


@pytest.mark.parametrize("page", ["list", "detail"])
def test_the_pages_keep_the_content_security_policy(admin_client, events, page):
    path = f"{LIST}?tenant=tenant-a" if page == "list" else detail("tenant-a", events["a_login"])
    response = admin_client.get(path)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == PAGE_POLICY
    text = response.content.decode()
    assert "<script" in text  # the admin's own scripts, from files
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text) == []  # none inline
    assert not re.search(r"\son[a-z]+=", text)  # no inline event handlers


@pytest.mark.parametrize("who", ["a_admin", "a_auditor", "outsider"])
def test_the_admins_scope_refuses_anyone_but_a_platform_administrator(parties, who):
    """admin_scope checks the caller itself, whatever the admin site checked before."""
    with transaction.atomic(), pytest.raises(TenantNotAccessible):
        admin_scope(getattr(parties, who), "tenant-a", Event)
    with transaction.atomic():
        access, scope = admin_scope(parties.platform_admin, "tenant-a", Event)
        assert (access.tenant_id, access.role) == ("tenant-a", "platform_admin")
        assert str(scope.query).count('"logs_event"."tenant_id" = tenant-a') == 1
