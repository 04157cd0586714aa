"""Fuzz every operation from the API's own OpenAPI schema, reaching the handlers.

Requests go through the real WSGI application in process, as members of a real
tenant with each role (admin, auditor, user) on the three-party data. Most
cases name that tenant (in the query, the path or the body), so they pass
tenant resolution and reach the handler; the others keep schemathesis' random
tenant ids. String values are sometimes replaced by ones that find encoding
bugs: non-ASCII, very long, control characters.

Any 5xx fails, and so does any response that does not match the schema
(status code, content type, body). The last test checks the fuzzing reached
the handlers: more than half of the fuzzed calls got a 2xx (the count is
printed with -s). Generation is derandomized, so a run is repeatable.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import token_pair_issue
from alerts.models import Alert, AlertRule
from auditlog_project.wsgi import application
from destinations.models import Destination
from destinations.secret_box import new_secret, seal_secret
from jobs.choices import JobKind
from jobs.services import job_create
from logs import services
from logs.validation import parse_event
from tenants.scoping import activate, resolve_access
from tests.conftest import end_open_requests
from tests.fixtures import PASSWORD
from tests.logs.conftest import event_body

# The committed schema (make test checks it matches the code), served by the app.
schema = schemathesis.openapi.from_path(str(Path(__file__).parents[2] / "docs" / "openapi.yaml"))
schema.app = application
# Schema-valid requests only: they must get past validation and reach the handler
# (malformed bodies and parameters have their own tests in test_errors.py and the
# endpoints' tests); the hook below adds the encoding-hostile strings.
schema.config.generation.update(modes=[GenerationMode.POSITIVE])
# Hypothesis' own generation (where the hook below applies), not the fixed
# boundary cases of the coverage phase, which bypass hooks and so never name a
# real tenant; hypothesis tries boundary sizes by itself.
schema.config.phases.update(phases=["examples", "fuzzing"])

TENANT = "tenant-a"
ROLES = {"admin": "a_admin", "auditor": "a_auditor", "user": "a_user"}
# Operations only a platform administrator may call: fuzzed as one (once).
PLATFORM_ONLY = {
    "GET /api/v1/tenants", "POST /api/v1/tenants", "POST /api/v1/users", "GET /api/v1/pipeline",
}  # fmt: skip
# Operations a role may never call are not fuzzed with it: every such call is a
# 403 before the handler, which the role-matrix tests already prove for each
# (tests/*/test_role_matrix*.py, and each newer API's own test_api.py).
TENANT_ADMIN_ONLY = {
    "GET /api/v1/tenants/{tenant_id}",
    "PATCH /api/v1/tenants/{tenant_id}",
    "GET /api/v1/tenants/{tenant_id}/members",
    "POST /api/v1/tenants/{tenant_id}/members",
    "DELETE /api/v1/tenants/{tenant_id}/members/{username}",
    "GET /api/v1/destinations",
    "POST /api/v1/destinations",
    "GET /api/v1/destinations/{destination_id}",
    "PATCH /api/v1/destinations/{destination_id}",
    "DELETE /api/v1/destinations/{destination_id}",
    "POST /api/v1/destinations/{destination_id}/replay",
    "GET /api/v1/tenants/{tenant_id}/encryption",
    "PUT /api/v1/tenants/{tenant_id}/encryption",
    "PUT /api/v1/tenants/{tenant_id}/masking-policy",
    "POST /api/v1/tenants/{tenant_id}/masking-policy/dry-run",
    "DELETE /api/v1/logs/cleanup",
    "GET /api/v1/jobs/{job_id}",
    "POST /api/v1/alerts/rules",
    "PATCH /api/v1/alerts/rules/{rule_id}",
    "DELETE /api/v1/alerts/rules/{rule_id}",
    "POST /api/v1/alerts/{alert_id}/ack",
}
# Reads auditors may make and users may not (tenants/permissions.py).
AUDITOR_READS = {
    "GET /api/v1/archives",
    "GET /api/v1/archives/{day}/download",
    "GET /api/v1/alerts",
    "GET /api/v1/alerts/rules",
    "GET /api/v1/alerts/rules/{rule_id}",
    "GET /api/v1/tenants/{tenant_id}/masking-policy",
}
REFUSED = {
    "admin": set(),
    "auditor": TENANT_ADMIN_ONLY | {"POST /api/v1/logs", "POST /api/v1/logs/bulk"},
    "user": TENANT_ADMIN_ONLY | AUDITOR_READS,
}
# Path parameters that name one of the fuzzing tenant's resources (CURRENT).
RESOURCE_IDS = ("event_id", "rule_id", "alert_id", "destination_id", "job_id", "username")
# The identity and events of the running test, for the hook below.
CURRENT: dict = {}
# Status classes of every fuzzed call in this session, for the reach check.
OUTCOMES: Counter[str] = Counter()
# Strings that find encoding bugs: non-ASCII in several scripts and planes,
# right-to-left and zero-width marks, control characters, very long values.
NASTY = st.one_of(
    st.sampled_from(
        [
            "é",
            "Ünïcödé",
            "日本語のログ",
            "emoji 😀 and 𝔘𝔫𝔦",
            "\u202eright-to-left",
            "zero\u200bwidth",
            "tab\there\nnewline\r",
            "bell\x07escape\x1b",
            "x" * 5000,
            "é" * 3000,
        ]
    ),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40),
)
# Crafted values of the kinds that once reached PostgreSQL as a 500 (issue 9): a
# well-formed cursor whose time carries an offset PostgreSQL refuses (past 15:59)
# or sits at an end of the calendar, and time bounds in year 1 or 9999.
EDGE_TIMES = st.sampled_from(
    [
        "0001-01-01T00:00:00+00:00",
        "0001-01-20T00:00:00Z",
        "0001-01-01T00:00:00-15:59",
        "9999-12-31T23:59:59+00:00",
        "9999-12-30T12:00:00Z",
        "2026-06-01T12:00:00+16:00",
    ]
)
CRAFTED_CURSORS = st.builds(
    lambda direction, stamp, ident: (
        base64.urlsafe_b64encode(f"{direction}|{stamp}|{ident.hex}".encode()).decode().rstrip("=")
    ),
    st.sampled_from(["n", "p"]),
    st.sampled_from(
        [
            "2026-06-01T12:00:00+16:00",
            "2026-06-01T12:00:00-23:59",
            "2026-06-01T12:00:00.5+23:59",
            "0001-01-01T00:00:00+16:00",
            "9999-12-31T23:59:59-23:59",
        ]
    ),
    st.uuids(),
)
CRAFTED = st.one_of(
    st.fixed_dictionaries({"cursor": CRAFTED_CURSORS}),
    st.fixed_dictionaries({"cursor": CRAFTED_CURSORS, "ordering": st.just("timestamp")}),
    st.fixed_dictionaries({"start_time": EDGE_TIMES}),
    st.fixed_dictionaries({"end_time": EDGE_TIMES}),
    st.fixed_dictionaries({"start_time": EDGE_TIMES, "end_time": EDGE_TIMES}),
)
# Free-text values (filters and event fields): where any string is valid input.
FREE_TEXT = {
    "user_id", "session_id", "resource_type", "resource_id", "request_id", "q",
    "message", "user_agent", "name",
}  # fmt: skip


def _known_tenant(case) -> None:
    """Name the fuzzing tenant (and real credentials, events) wherever the case can."""
    if case.path_parameters and "tenant_id" in case.path_parameters:
        case.path_parameters["tenant_id"] = TENANT
    for name in RESOURCE_IDS:
        if case.path_parameters and name in case.path_parameters and name in CURRENT:
            case.path_parameters[name] = CURRENT[name]
    if "tenant_id" in case.operation.query:
        case.query = case.query if isinstance(case.query, dict) else {}
        case.query["tenant_id"] = TENANT
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)  # a random cursor is a 400 by design (crafted below)
        if case.operation.path == "/api/v1/logs/correlation":  # exactly one of the two
            if case.query.get("request_id"):
                case.query.pop("session_id", None)
            elif not case.query.get("session_id"):
                case.query["request_id"] = "fuzz"
    if isinstance(case.headers, dict):
        case.headers.pop("X-Tenant-ID", None)
    body = case.body
    if isinstance(body, dict) and CURRENT.get("user") is not None:
        if case.operation.path == "/api/v1/auth/token":
            body.update(username=CURRENT["user"].username, password=PASSWORD)
        elif "refresh" in body:
            body["refresh"] = token_pair_issue(user=CURRENT["user"])["refresh"]
    if isinstance(body, dict):
        if "tenant_id" in body or case.operation.path.startswith("/api/v1/logs"):
            body["tenant_id"] = TENANT
        for item in body.get("events") or []:
            if isinstance(item, dict) and "tenant_id" in item:
                item["tenant_id"] = TENANT


def _nasty_strings(case, text: str) -> None:
    """Put `text` in every free-text value of the query, the body and its events."""
    body = case.body if isinstance(case.body, dict) else {}
    events = [e for e in body.get("events") or [] if isinstance(e, dict)]
    for part in (case.query, body, *events):
        if isinstance(part, dict):
            for key in FREE_TEXT & set(part):
                part[key] = text


def _crafted_times(case, values: dict[str, str]) -> None:
    """Only the real tenant and a crafted cursor or time bounds in an events read's
    query, so that nothing else refuses the request before it reaches PostgreSQL."""
    if not case.operation.path.startswith("/api/v1/logs") or case.method != "GET":
        return
    if "cursor" in values and "cursor" not in case.operation.query:
        return
    case.query = {"tenant_id": TENANT, **values}


@schema.hook
def flatmap_case(ctx, case):
    # 4 cases in 5 name the real tenant; 1 in 3 carries an encoding-hostile string;
    # 1 in 2 reads of events carry a crafted cursor or time bounds (and nothing else).
    choices = st.tuples(
        st.sampled_from([True, True, True, True, False]),
        st.none() | NASTY,
        st.none() | CRAFTED,
    )

    def apply(choice):
        known, text, times = choice
        if known:
            _known_tenant(case)
        if text is not None:
            _nasty_strings(case, text)
        if times is not None:
            _crafted_times(case, times)
        return case

    return choices.map(apply)


@pytest.fixture
def keep_the_test_connection(member_headers):
    # Like Django's test client: requests must not close the test's connection.
    # After the seeding: the test client reconnects these receivers when done.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def exports_uncapped():
    # A concurrent-export place is given back when the server closes the response;
    # schemathesis' WSGI client never closes it, so every export after the first
    # two would be a 429 (tests/project/test_ratelimits.py covers the cap).
    with override_settings(CONCURRENCY_PER_TENANT={"export": 1_000_000}):
        yield


def _store_events(admin, count: int) -> list[str]:
    """Events of the fuzzing tenant, stored by the service (not the API under test)."""
    access = resolve_access(admin, TENANT)
    ids = []
    with transaction.atomic():
        activate(TENANT)
        for _ in range(count):
            data = parse_event(event_body(user_id="ursula"), now=timezone.now())
            ids.append(str(services.event_create(access=access, data=data)[0]["id"]))
    return ids


def _store_resources(event_id: str) -> dict[str, str]:
    """An alert rule, a fired alert, a destination and a job of the fuzzing tenant,
    for the operations that name one in their path (stored directly: the fuzzing
    is of the API, not of these services)."""
    with transaction.atomic():
        activate(TENANT)
        now = timezone.now()
        rule = AlertRule.objects.create(
            tenant_id=TENANT, name="fuzz rule", condition_type="any", created_by="alice"
        )
        alert = Alert.objects.create(
            tenant_id=TENANT, rule=rule, rule_name=rule.name, condition_type="any", count=1,
            window_start=now, window_end=now, trigger_event_id=event_id, event_ids=[event_id],
            batch_id=1,
        )  # fmt: skip
        ident = str(uuid.uuid4())
        destination = Destination.objects.create(
            id=ident, tenant_id=TENANT, name="fuzz", url="https://receiver.example/audit",
            secret=seal_secret(TENANT, ident, new_secret()), created_by="alice",
        )  # fmt: skip
        job, _ = job_create(kind=JobKind.CLEANUP, tenant_id=TENANT, params={}, days=[], total=0)
    return {
        "rule_id": str(rule.pk),
        "alert_id": str(alert.pk),
        "destination_id": str(destination.pk),
        "job_id": str(job.pk),
    }


@pytest.fixture(params=sorted(ROLES))
def member_headers(request, parties) -> dict:
    """A member of tenant-a with each role; tenant-a has a few events of its own."""
    role = request.param
    operation = re.search(r"\[([A-Z]+ /[^\]]*)\]", request.node.name).group(1)
    if operation in REFUSED[role] or (operation in PLATFORM_ONLY and role != "admin"):
        pytest.skip(f"{operation} is refused to the {role} role (the role-matrix tests)")
    user = parties.platform_admin if operation in PLATFORM_ONLY else getattr(parties, ROLES[role])
    events = _store_events(parties.a_admin, 3)
    CURRENT.clear()
    CURRENT.update(user=user, events=events, event_id=events[0], username=parties.a_user.username)
    CURRENT.update(_store_resources(events[0]))
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}", "Host": "localhost"}


@pytest.mark.django_db
@pytest.mark.timeout(300)
@schema.parametrize()
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_causes_a_server_error_or_breaks_the_schema(
    case, member_headers, keep_the_test_connection, exports_uncapped
):
    response = case.call(headers=member_headers)
    end_open_requests()  # the WSGI client does not close the response
    OUTCOMES[f"{response.status_code // 100}xx"] += 1
    OUTCOMES[f"{case.operation.label} {response.status_code}"] += 1
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_most_fuzzed_calls_reach_a_handler():
    total = sum(n for key, n in OUTCOMES.items() if key.endswith("xx"))
    if not total:
        pytest.skip("run with the fuzz test above: it records the outcomes")
    print(f"fuzzed calls: {total}; by status class: {dict(sorted(OUTCOMES.items()))}")
    assert OUTCOMES["2xx"] > total / 2, OUTCOMES
