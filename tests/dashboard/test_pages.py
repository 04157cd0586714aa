"""The dashboard's pages, in process: what each role sees, and never another tenant's data.

The pages read and change through the API's own views (dashboard/api.py), so
these tests check the wiring: the tenant the page passes, the session, the
forms, the answers rendered, the access events recorded with via=dashboard.
The browser tests (test_browser.py) drive the same pages in Chromium.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from logs.models import Event
from tenants.models import Membership
from tenants.scoping import activated
from tests.fixtures import PASSWORD
from tests.logs.conftest import at, event_body, seed

PAGES = ["/", "/events/", "/live/", "/correlation/", "/members/", "/settings/"]


def session(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def access_events(tenant_id: str, action: str) -> list[Event]:
    with activated(tenant_id):
        return list(Event.objects.filter(category="access", action=action).order_by("timestamp"))


@pytest.fixture
def events(parties):
    a = seed(
        parties,
        "tenant-a",
        [
            event_body(
                action="DOC_EDIT",
                user_id="ursula",
                resource_type="document",
                resource_id="doc-1",
                severity="WARNING",
                request_id="req-a-1",
                session_id="sess-a",
                before={"title": "Draft", "tags": ["x"]},
                after={"title": "Final", "owner": "ursula"},
                timestamp=at(5),
            ),
            event_body(action="LOGIN", user_id="arthur", request_id="req-a-1", timestamp=at(4)),
            *[event_body(action="READ", user_id="ursula", timestamp=at(3)) for _ in range(60)],
        ],
    )
    b = seed(
        parties,
        "tenant-b",
        [
            event_body(
                tenant_id="tenant-b",
                action="B_SECRET_ACTION",
                user_id="bob",
                request_id="req-a-1",
                resource_id="b-only-resource",
                timestamp=at(5),
            )
        ],
    )
    return {"a": a, "b": b}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_login(path, parties):
    answer = Client().get(path)
    assert answer.status_code == 302
    assert answer["Location"].startswith("/login/?next=")


def test_the_login_form_logs_in_and_out(parties):
    client = Client(enforce_csrf_checks=False)
    page = client.get("/login/")
    assert b'name="username"' in page.content and b"<label" in page.content
    wrong = client.post("/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b"problem" in wrong.content
    right = client.post("/login/", {"username": "alice", "password": PASSWORD, "next": "/events/"})
    assert right.status_code == 302 and right["Location"] == "/events/"
    assert client.get("/events/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/events/").status_code == 302


def test_pages_are_never_cached_and_carry_the_policy(parties, events):
    answer = session(parties.a_admin).get("/events/")
    assert "no-store" in answer["Cache-Control"]
    assert "script-src 'self'" in answer["Content-Security-Policy"]
    assert b"<script>" not in answer.content  # no inline script: the policy forbids it


def test_overview_counts_the_tenants_events_only(parties, events):
    answer = session(parties.a_auditor).get("/?range=24h")
    assert answer.status_code == 200
    total = re.search(rb'<strong id="total">(\d+)</strong>', answer.content)
    assert total is not None
    application = len(events["a"])
    # The tenant's events in the window: the seeded ones and the access events of reads so far.
    assert int(total.group(1)) >= application
    assert b"B_SECRET_ACTION" not in answer.content and b"bob" not in answer.content
    assert b"DOC_EDIT" in answer.content  # in the chart data and the tables
    stats = access_events("tenant-a", "STATS")
    assert stats[-1].metadata["via"] == "dashboard"
    assert access_events("tenant-b", "STATS") == []


def test_search_filters_pages_and_exports_within_the_tenant(parties, events):
    client = session(parties.a_auditor)
    first = client.get("/events/", {"action": "READ"})
    assert first.status_code == 200
    assert first.content.count(b"<td>READ</td>") == 50
    older = re.search(rb'rel="next" href="([^"]+)"', first.content)
    assert older is not None
    second = client.get("/events/" + older.group(1).decode().replace("&amp;", "&"))
    assert second.content.count(b"<td>READ</td>") == 10
    assert b"B_SECRET_ACTION" not in client.get("/events/").content
    # A tenant named in the query is not the page's to choose.
    assert b"B_SECRET_ACTION" not in client.get("/events/", {"tenant_id": "tenant-b"}).content
    text = client.get("/events/", {"q": "doc-1"})
    assert b"DOC_EDIT" in text.content and b"<td>READ</td>" not in text.content
    csv_link = re.search(rb'href="(/api/v1/logs/export\?[^"]*format=csv[^"]*)"', first.content)
    assert csv_link is not None
    export = client.get(csv_link.group(1).decode().replace("&amp;", "&"))
    assert export.status_code == 200
    body = b"".join(export.streaming_content) if export.streaming else export.content
    assert body.count(b"READ") == 60 and b"B_SECRET_ACTION" not in body
    searches = access_events("tenant-a", "SEARCH")
    assert searches and {e.metadata["via"] for e in searches} == {"dashboard"}


def test_a_bad_filter_is_named_on_the_page(parties, events):
    answer = session(parties.a_auditor).get("/events/", {"severity": "LOUD"})
    assert answer.status_code == 200
    assert b'class="problem"' in answer.content and b"severity" in answer.content


def test_event_detail_shows_the_diff_and_links_the_correlation(parties, events):
    client = session(parties.a_auditor)
    answer = client.get(f"/events/{events['a'][0]}/")
    assert answer.status_code == 200
    content = answer.content.decode()
    assert re.search(r'<tr class="changed"><th scope="row">title', content)
    assert re.search(r'<tr class="added"><th scope="row">owner', content)
    assert re.search(r'<tr class="removed"><th scope="row">tags\[0\]', content)
    assert "/correlation/?request_id=req-a-1" in content
    timeline = client.get("/correlation/", {"request_id": "req-a-1"})
    assert timeline.content.count(b"<li class=") == 2
    assert b"B_SECRET_ACTION" not in timeline.content
    by_form = client.get("/correlation/", {"by": "session_id", "value": "sess-a"})
    assert by_form.content.count(b"<li class=") == 1
    views = access_events("tenant-a", "VIEW")
    assert views[-1].metadata["via"] == "dashboard"


def test_another_tenants_event_is_not_found(parties, events):
    answer = session(parties.a_admin).get(f"/events/{events['b'][0]}/")
    assert answer.status_code == 404
    assert b"B_SECRET_ACTION" not in answer.content and b"b-only-resource" not in answer.content


def test_the_user_role_sees_only_its_own_events(parties, events):
    answer = session(parties.a_user).get("/events/", {"action": "LOGIN"})
    assert b"<td>LOGIN</td>" not in answer.content  # arthur's, not ursula's
    own = session(parties.a_user).get("/events/", {"action": "DOC_EDIT"})
    assert b"<td>DOC_EDIT</td>" in own.content
    assert b"Members" not in own.content  # no admin navigation
    assert session(parties.a_user).get("/members/").status_code == 403
    assert session(parties.a_auditor).get("/settings/").status_code == 403


def test_the_tenant_switcher_offers_only_the_users_tenants(parties, events):
    Membership.objects.create(user=parties.b_user, tenant=parties.tenant_a, role="auditor")
    client = session(parties.b_user)
    page = client.get("/events/").content
    assert b'<option value="tenant-a"' in page and b'<option value="tenant-b"' in page
    client.post("/tenant", {"tenant": "tenant-b", "next": "/events/"})
    assert b"B_SECRET_ACTION" in client.get("/events/").content
    client.post("/tenant", {"tenant": "tenant-a", "next": "/events/"})
    assert b"B_SECRET_ACTION" not in client.get("/events/").content
    # A tenant that is not the user's is ignored: still tenant A.
    outsider = session(parties.a_auditor)
    outsider.post("/tenant", {"tenant": "tenant-b", "next": "/events/"})
    assert b"B_SECRET_ACTION" not in outsider.get("/events/").content


@pytest.mark.parametrize(
    ("back", "landing"),
    [
        ("https://evil.example/x", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example/x", "/"),
        ("http://testserver//evil.example/x", "/"),
        ("/admin/", "/"),
        ("/tenant", "/"),
        ("/members/?cursor=abc", "/members/"),
        ("/events/?action=X&cursor=abc", "/events/"),
        ("/events/00000000-0000-0000-0000-000000000001/", "/events/"),
    ],
)
def test_switching_tenant_returns_to_a_dashboard_page_only(parties, back, landing):
    answer = session(parties.a_admin).post("/tenant", {"tenant": "tenant-a", "next": back})
    assert answer.status_code == 302 and answer["Location"] == landing


def test_members_page_changes_roles_through_the_rules(parties):
    client = session(parties.a_admin)
    page = client.get("/members/")
    assert b"arthur" in page.content and b"bianca" not in page.content
    client.post("/members/", {"action": "save", "username": "oscar", "role": "auditor"})
    assert Membership.objects.get(user=parties.outsider, tenant_id="tenant-a").role == "auditor"
    with activated("tenant-a"):
        added = Event.objects.filter(category="admin", action="MEMBER_ADD").get()
    assert added.user_id == "alice" and added.metadata["via"] == "dashboard"
    client.post("/members/", {"action": "remove", "username": "oscar"})
    assert not Membership.objects.filter(user=parties.outsider, tenant_id="tenant-a").exists()
    refused = client.post(
        "/members/", {"action": "save", "username": "alice", "role": "user"}, follow=True
    )
    assert b"error" in refused.content  # the last admin cannot be demoted
    assert Membership.objects.get(user=parties.a_admin, tenant_id="tenant-a").role == "admin"


def test_members_forms_need_the_csrf_token(parties):
    client = Client(enforce_csrf_checks=True)
    client.force_login(parties.a_admin)
    answer = client.post("/members/", {"action": "save", "username": "oscar", "role": "user"})
    assert answer.status_code == 403
    assert not Membership.objects.filter(user=parties.outsider).exists()


def test_settings_page_saves_through_the_api_rules(parties):
    client = session(parties.a_admin)
    saved = client.post(
        "/settings/", {"name": "Tenant A", "retention_days": "120", "archive_before_delete": "on"}
    )
    assert saved.status_code == 302
    parties.tenant_a.refresh_from_db()
    assert parties.tenant_a.retention_days == 120
    refused = client.post("/settings/", {"name": "Tenant A", "retention_days": "-3"}, follow=True)
    assert b"retention_days" in refused.content
    parties.tenant_a.refresh_from_db()
    assert parties.tenant_a.retention_days == 120


def test_the_live_page_gets_a_token_only_with_its_csrf_token(parties):
    client = Client(enforce_csrf_checks=True)
    client.force_login(parties.a_auditor)
    page = client.get("/live/")
    assert b'data-tenant="tenant-a"' in page.content
    assert client.post("/live/token").status_code == 403
    token = client.post("/live/token", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert token.status_code == 200 and token.json()["token"]
    anonymous = Client().post("/live/token")
    assert anonymous.status_code == 401 and anonymous.json()["detail"]


def test_the_tails_token_opens_the_stream_only(parties, settings):
    raw = session(parties.a_auditor).post("/live/token").json()["token"]
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert bearer.get("/api/v1/auth/me").status_code == 401
    assert bearer.get("/api/v1/logs", {"tenant_id": "tenant-a"}).status_code == 401
    from logs.consumers import _authenticate

    user, _ = _authenticate(raw)  # the WebSocket's check accepts it
    assert user == parties.a_auditor


def test_tokens_for_the_tail_are_rate_limited_and_need_a_tenant(parties, settings):
    settings.STREAM_TOKEN_RATE = "3/m"
    client = session(parties.a_auditor)
    answers = [client.post("/live/token").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert session(parties.outsider).post("/live/token").status_code == 403


def test_the_browsable_api_serves_html_to_a_session_and_json_to_a_program(parties, events):
    client = session(parties.a_auditor)
    query = {"tenant_id": "tenant-a", "action": "DOC_EDIT"}
    html = client.get("/api/v1/logs", query, HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    assert b"DOC_EDIT" in html.content and b"B_SECRET_ACTION" not in html.content
    program = parties.client("a_auditor").get("/api/v1/logs", {"tenant_id": "tenant-a"})
    assert program["Content-Type"].startswith("application/json")
    other = client.get("/api/v1/logs", {"tenant_id": "tenant-b"}, HTTP_ACCEPT="text/html")
    assert other.status_code == 403


def test_a_session_cannot_change_through_the_api_without_csrf(parties):
    client = Client(enforce_csrf_checks=True)
    client.force_login(parties.a_admin)
    client.get("/events/")  # the page sets the CSRF cookie
    answer = client.post(
        "/api/v1/logs",
        event_body(action="FORGED"),
        content_type="application/json",
    )
    assert answer.status_code == 403 and "CSRF" in answer.json()["detail"]
    with activated("tenant-a"):
        assert not Event.objects.filter(action="FORGED").exists()
    allowed = client.post(
        "/api/v1/logs",
        event_body(action="WITH_TOKEN"),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value,
    )
    assert allowed.status_code == 201


def test_the_session_counts_only_for_same_origin_requests(parties, events):
    client = session(parties.a_auditor)
    query = {"tenant_id": "tenant-a"}
    for fetched_from in ("same-origin", "none"):
        answer = client.get("/api/v1/logs", query, HTTP_SEC_FETCH_SITE=fetched_from)
        assert answer.status_code == 200, fetched_from
    for fetched_from in ("cross-site", "same-site"):
        answer = client.get("/api/v1/logs/export", query, HTTP_SEC_FETCH_SITE=fetched_from)
        assert answer.status_code == 401, fetched_from
    assert not access_events("tenant-a", "EXPORT")


def test_the_login_form_is_throttled_like_the_token_endpoint(parties, settings):
    settings.LOGIN_RATE_PER_USERNAME = "3/m"
    client = Client()
    for _ in range(3):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    refused = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 200 and b"Too many failed logins" in refused.content
    assert client.get("/events/").status_code == 302  # not logged in


def test_policies_page_saves_masking_and_encryption_through_the_api(parties):
    client = session(parties.a_admin)
    page = client.get("/policies/")
    assert page.status_code == 200 and b"key_names" in page.content
    rules = '{"key_names": ["iban"], "value_patterns": []}'
    saved = client.post("/policies/", {"policy": "masking", "rules": rules}, follow=True)
    assert b"Masking policy saved" in saved.content
    stored = parties.client("a_admin").get("/api/v1/tenants/tenant-a/masking-policy").json()
    assert stored["key_names"] == ["iban"]
    not_json = client.post("/policies/", {"policy": "masking", "rules": "{oops"}, follow=True)
    assert b"not JSON" in not_json.content and b"{oops" in not_json.content  # kept for editing
    bad = '{"key_names": [], "value_patterns": [{"name": "x", "pattern": "("}]}'
    refused = client.post("/policies/", {"policy": "masking", "rules": bad}, follow=True)
    assert b"value_patterns[0].pattern" in refused.content
    encrypted = client.post(
        "/policies/",
        {"policy": "encryption", "encrypted_fields": ["before", "after", "metadata"]},
        follow=True,
    )
    assert b"Encryption policy saved" in encrypted.content
    settings = parties.client("a_admin").get("/api/v1/tenants/tenant-a/encryption").json()
    assert "metadata" in settings["encrypted_fields"]
    assert b'name="encrypted_fields" value="before"' in client.get("/policies/").content
    dropped = client.post(
        "/policies/", {"policy": "encryption", "encrypted_fields": ["metadata"]}, follow=True
    )
    assert b'<li class="error">' in dropped.content and b"encrypted_fields" in dropped.content
    assert session(parties.a_auditor).get("/policies/").status_code == 403
