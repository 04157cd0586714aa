"""GET /api/v1/logs/stats: aggregates on a known dataset, buckets, window, scoping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logs import stats
from logs.models import Event
from tests.logs.conftest import at, event_body, seed

URL = "/api/v1/logs/stats"
pytestmark = pytest.mark.django_db

# 10:00 UTC three days ago: an hour whose next hour is the same UTC day.
BASE = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=3)


@pytest.fixture(autouse=True)
def _times_of_this_test(monkeypatch):
    # BASE is taken when each test runs, not when the module is imported.
    base = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    monkeypatch.setitem(globals(), "BASE", base - timedelta(days=3))


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def known_dataset(parties) -> None:
    def ev(minutes: int, **fields):
        return event_body(timestamp=iso(BASE + timedelta(minutes=minutes)), **fields)

    seed(
        parties,
        "tenant-a",
        [
            ev(5, action="login", user_id="ursula"),
            ev(10, action="login", user_id="uma", severity="WARNING"),
            ev(70, action="update", resource_type="document", severity="ERROR"),
            ev(24 * 60 + 5, action="delete", resource_type="document"),
            ev(24 * 60 + 10, action="login", user_id="uma"),
        ],
    )
    seed(parties, "tenant-b", [ev(5, tenant_id="tenant-b", user_id="bob")])


def get_stats(client, **params):
    window = {"start_time": iso(BASE), "end_time": iso(BASE + timedelta(days=2))}
    response = client.get(URL, {**window, **params})
    assert response.status_code == 200, response.json()
    return response.json()


def test_totals_and_breakdowns(parties):
    known_dataset(parties)
    body = get_stats(parties.client("a_auditor"))
    assert body["total"] == 5
    assert body["by_action"] == {"LOGIN": 3, "DELETE": 1, "UPDATE": 1}
    assert list(body["by_action"]) == ["LOGIN", "DELETE", "UPDATE"]  # by count, then name
    assert body["by_severity"] == {"INFO": 3, "WARNING": 1, "ERROR": 1}
    assert body["by_resource_type"] == {"session": 3, "document": 2}
    assert body["top_users"] == [{"user_id": "ursula", "count": 3}, {"user_id": "uma", "count": 2}]
    assert body["bucket"] == "day"
    assert body["start_time"] == iso(BASE)


def test_timeline_by_hour_and_by_day(parties):
    known_dataset(parties)
    client = parties.client("a_auditor")
    next_day = BASE + timedelta(days=1)
    assert get_stats(client, bucket="hour")["timeline"] == [
        {"bucket": iso(BASE), "count": 2},
        {"bucket": iso(BASE + timedelta(hours=1)), "count": 1},
        {"bucket": iso(next_day), "count": 2},
    ]
    midnight = BASE.replace(hour=0)
    assert get_stats(client, bucket="day")["timeline"] == [
        {"bucket": iso(midnight), "count": 3},
        {"bucket": iso(midnight + timedelta(days=1)), "count": 2},
    ]


def test_filters_narrow_every_aggregate(parties):
    known_dataset(parties)
    body = get_stats(parties.client("a_auditor"), severity="ERROR,WARNING", action="login")
    assert body["total"] == 1
    assert body["by_severity"] == {"WARNING": 1}
    assert body["top_users"] == [{"user_id": "uma", "count": 1}]


def test_window_defaults_to_the_last_30_days(parties):
    seed(parties, "tenant-a", [event_body(timestamp=at(40 * 24 * 60)), event_body(timestamp=at(5))])
    client = parties.client("a_auditor")
    body = client.get(URL, {"category": "application"}).json()
    assert body["total"] == 1
    assert body["end_time"] is None
    start = datetime.fromisoformat(body["start_time"])
    assert abs(start - (datetime.now(UTC) - timedelta(days=30))) < timedelta(minutes=1)
    older = {"start_time": at(50 * 24 * 60), "category": "application"}
    assert client.get(URL, older).json()["total"] == 2
    only_end = client.get(URL, {"end_time": at(39 * 24 * 60)}).json()
    assert only_end["total"] == 1  # 30 days before end_time


def test_top_users_is_the_top_10(parties):
    users = [f"u{n:02d}" for n in range(12)]
    seed(parties, "tenant-a", [event_body(user_id=u, timestamp=at(5)) for u in [*users, "u11"]])
    top = parties.client("a_auditor").get(URL).json()["top_users"]
    assert top[0] == {"user_id": "u11", "count": 2}
    assert [row["user_id"] for row in top[1:]] == users[:9]


def test_empty_tenant(parties):
    body = parties.client("a_auditor").get(URL, {"bucket": "hour"}).json()
    assert body["total"] == 0
    assert body["by_action"] == body["by_severity"] == body["by_resource_type"] == {}
    assert body["top_users"] == body["timeline"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        # user, membership, activate, jit/work_mem, dirty hours, the rollup
        # statement, the STATS access event
        ({}, ["set_config('jit'", "logs_event_rollup_dirty", "logs_event_rollup", "INSERT"]),
        # user, membership, activate, jit/work_mem, the raw GROUPING SETS
        # statement, the STATS access event
        ({"q": "x"}, ["set_config('jit'", "GROUPING SETS", "INSERT"]),
    ],
)
def test_stats_take_a_fixed_number_of_queries(parties, params, expected):
    known_dataset(parties)
    client = parties.client("a_auditor")
    stats.timescaledb_installed()  # asked once per process
    with CaptureQueriesContext(connection) as queries:
        get_stats(client, **params)
    # The tenant's encryption key and policy for the STATS access event are read on each
    # request here (keys are cached after a COMMIT, which a test never makes).
    sql = [
        q["sql"]
        for q in queries.captured_queries
        if "SAVEPOINT" not in q["sql"] and "encryption_" not in q["sql"]
    ]
    assert len(sql) == 3 + len(expected), sql
    for statement, marker in zip(sql[3:], expected, strict=True):
        assert marker in statement
    assert "logs_event_rollup" in sql[-2] or "GROUPING SETS" in sql[-2]


def test_user_role_counts_only_its_own_events(parties):
    known_dataset(parties)
    body = get_stats(parties.client("a_user"))
    assert body["total"] == 3
    assert body["top_users"] == [{"user_id": "ursula", "count": 3}]


def test_platform_admin_reads_any_tenant(parties):
    known_dataset(parties)
    body = get_stats(parties.client("platform_admin"), tenant_id="tenant-b")
    assert body["total"] == 1
    assert body["top_users"] == [{"user_id": "bob", "count": 1}]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "week"}, "bucket"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": "2026-01-01T00:00:00"}, "end_time"),
        ({"severity": "LOUD"}, "severity"),
        ({"format": "csv"}, "format"),
        ({"ordering": "timestamp"}, "ordering"),
    ],
)
def test_bad_parameters_answer_400_naming_them(parties, params, field):
    response = parties.client("a_auditor").get(URL, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


@pytest.mark.parametrize("name", ["a_auditor", "outsider"])
def test_another_tenant_is_refused_like_a_missing_one(parties, name):
    client = parties.client(name)
    other = client.get(URL, {"tenant_id": "tenant-b"})
    missing = client.get(URL, {"tenant_id": "no-such-tenant"})
    assert other.status_code == missing.status_code == 403
    assert other.json() == missing.json()


def test_anonymous_is_401(parties):
    assert parties.client(None).get(URL).status_code == 401


def test_timescaledb_buckets_use_time_bucket(monkeypatch):
    monkeypatch.setattr(stats, "timescaledb_installed", lambda: True)
    query = Event.objects.annotate(b=stats._bucket_expression("hour")).values("b").query
    assert "time_bucket(INTERVAL '1 hour', " in str(query)
    monkeypatch.setattr(stats, "timescaledb_installed", lambda: False)
    query = Event.objects.annotate(b=stats._bucket_expression("day")).values("b").query
    assert "date_trunc('day', " in str(query)
