"""The stats rollup: stats from rollup + raw equal stats from raw events alone.

Every comparison asks the API twice for the same window: once as it answers
(the rollup path, checked to be taken), once with the rollup switched off
(the raw GROUPING SETS path, the reference). Across: a fresh ingest not yet
rolled up, after the refresh task, more ingest into a rolled-up hour, deletes,
edge pieces read as hour rows or as day rows minus hours, hour and day buckets.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logs import audit, services, stats, tasks
from logs.stats import rollup_refresh as rollup
from logs.stats.rollup_read import DAY, HOUR, Plan, rollup_plan
from tenants.scoping import activate
from tests.logs.conftest import event_body, seed

URL = "/api/v1/logs/stats"
ROLLUP_READ = re.compile(r"FROM logs_event_rollup\b(?!_)")
pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)
BASE = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)


@pytest.fixture(autouse=True)
def _no_stats_access_events(monkeypatch):
    """These tests compare the rollup path with raw events, request after request:
    each request's STATS access event (tests/logs/test_access_events.py) would be
    one more event between the two. Left out here."""
    monkeypatch.setattr(audit, "record_read", lambda **_: None)


@pytest.fixture(autouse=True)
def _times_of_this_test(monkeypatch):
    # NOW and BASE are taken when each test runs, not when the module is imported
    # (a long run could otherwise cross an hour or a day between the two).
    now = datetime.now(UTC)
    monkeypatch.setitem(globals(), "NOW", now)
    base = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    monkeypatch.setitem(globals(), "BASE", base)


USERS = ["ursula", "uma", "ulf", "una"]
ACTIONS = ["login", "view", "update"]
SEVERITIES = ["INFO", "WARNING", "ERROR", "CRITICAL"]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def minutes(n: float) -> datetime:
    return BASE + timedelta(minutes=n)


def events(count: int, *, step: int = 73, offset: int = 0, **fields) -> list[dict]:
    return [
        event_body(
            **{
                "timestamp": iso(minutes(offset + i * step)),
                "user_id": USERS[i % 4],
                "action": ACTIONS[i % 3],
                "severity": SEVERITIES[i % 4],
                "resource_type": ["document", "session"][i % 2],
                **fields,
            }
        )
        for i in range(count)
    ]


@pytest.fixture
def dataset(parties):
    """~3 days of tenant-a events every 73 minutes, two just now, and some of tenant-b."""
    seed(parties, "tenant-a", events(58))
    seed(parties, "tenant-a", [event_body(timestamp=iso(NOW - timedelta(minutes=2)))] * 2)
    seed(parties, "tenant-b", events(9, step=301, tenant_id="tenant-b", user_id="bob"))
    return parties


# (start, end) in minutes from BASE (midnight three days ago); None: left out.
WINDOWS = {
    "default (30 days, open end)": (None, None),
    "whole days": (0, 3 * 24 * 60),
    "open end": (5 * 60 + 5, None),
    "first edge 23 h (day minus hours), last edge 5 h": (17, 2 * 1440 + 5 * 60 + 3),
    "first edge 9 h, last edge 20 h (day minus hours)": (14 * 60 + 30, 2 * 1440 + 20 * 60 + 1),
    "inside one day": (2 * 60 + 5, 9 * 60 + 59),
    "two partial days, no whole day": (20 * 60 + 30, 1440 + 3 * 60 + 10),
    "inside one hour (raw)": (3 * 60 + 10, 3 * 60 + 50),
}


def window_params(name: str) -> dict:
    start, end = WINDOWS[name]
    params = {}
    if start is not None:
        params["start_time"] = iso(minutes(start))
    if end is not None:
        params["end_time"] = iso(minutes(end))
    return params


def get(client, params: dict) -> dict:
    response = client.get(URL, params)
    assert response.status_code == 200, response.json()
    return response.json()


def both_paths(client, monkeypatch, params: dict) -> tuple[dict, dict, bool]:
    """(as answered, from raw events only, whether the rollup was read)."""
    with CaptureQueriesContext(connection) as queries:
        answered = get(client, params)
    used = any(ROLLUP_READ.search(q["sql"]) for q in queries.captured_queries)
    with monkeypatch.context() as patch:
        patch.setattr(stats, "_rollup_answers", lambda access, params: False)
        reference = get(client, params)
    if "start_time" not in params:  # "30 days before now": a moment later each time
        answered.pop("start_time"), reference.pop("start_time")
    return answered, reference, used


def assert_exact_everywhere(parties, monkeypatch) -> None:
    client = parties.client("a_auditor")
    for name in WINDOWS:
        for bucket in ("hour", "day"):
            params = {**window_params(name), "bucket": bucket}
            answered, reference, used = both_paths(client, monkeypatch, params)
            assert answered == reference, (name, bucket)
            assert used == (name != "inside one hour (raw)"), name


def refresh() -> int:
    return tasks.stats_rollup_refresh()


def rollup_rows(tenant_id: str = "tenant-a") -> list[tuple]:
    activate(tenant_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT granularity, period, dimension, key, n FROM logs_event_rollup"
            " ORDER BY 1, 2, 3, 4"
        )
        return cursor.fetchall()


def dirty_hours(tenant_id: str = "tenant-a") -> list[datetime]:
    activate(tenant_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT hour FROM logs_event_rollup_dirty ORDER BY hour")
        return [row[0] for row in cursor.fetchall()]


def test_fresh_ingest_marks_its_hours_and_stats_are_exact_before_any_refresh(dataset, monkeypatch):
    assert rollup_rows() == []
    assert dirty_hours()[0] == BASE and len(dirty_hours()) >= 50
    assert_exact_everywhere(dataset, monkeypatch)


def test_after_the_refresh_stats_come_from_the_rollup_and_are_exact(dataset, monkeypatch):
    assert refresh() > 0
    assert dirty_hours() == dirty_hours("tenant-b") == []
    assert rollup_rows() and rollup_rows("tenant-b")
    assert_exact_everywhere(dataset, monkeypatch)


def test_more_ingest_into_a_rolled_up_hour_is_counted_until_and_after_the_next_refresh(
    dataset, monkeypatch
):
    refresh()
    before = rollup_rows()
    seed(dataset, "tenant-a", events(5, step=1, offset=24 * 60 + 10, user_id="late"))
    assert dirty_hours() == [BASE + DAY]
    assert rollup_rows() == before  # stale until refreshed, so read raw meanwhile
    assert_exact_everywhere(dataset, monkeypatch)
    refresh()
    assert dirty_hours() == []
    assert_exact_everywhere(dataset, monkeypatch)


def test_deleted_events_are_never_counted(dataset, monkeypatch):
    refresh()
    activate("tenant-a")
    access = type("Access", (), {"tenant_id": "tenant-a"})()
    assert services.events_delete(access=access, before=minutes(1440 + 30)) == 21
    assert dirty_hours()[0] == BASE and dirty_hours()[-1] == BASE + DAY
    assert_exact_everywhere(dataset, monkeypatch)
    refresh()
    assert_exact_everywhere(dataset, monkeypatch)
    assert all(period >= BASE + DAY for _, period, *_ in rollup_rows())


def test_the_refresh_is_idempotent(dataset):
    assert refresh() > 0
    rows = rollup_rows()
    assert refresh() == 0  # nothing dirty is left
    assert rollup_rows() == rows
    assert rollup.rollup_rebuild(tenant_id="tenant-a", since=None, until=None, batch_hours=5) > 70
    assert rollup_rows() == rows  # recomputing clean hours changes nothing


def test_the_refresh_works_in_batches_and_day_rows_are_sums_of_hour_rows(dataset):
    activate("tenant-a")
    assert rollup.rollup_refresh(tenant_id="tenant-a", batch_hours=3) <= 3
    rollup.rollup_drain(tenant_ids=["tenant-a"], batch_hours=7)
    rows = rollup_rows()
    days = {(p, d, k): n for g, p, d, k, n in rows if g == "day"}
    sums: dict = {}
    for granularity, period, dimension, key, n in rows:
        if granularity == "hour" and dimension != "total":
            day = (period.replace(hour=0), dimension, key)
            sums[day] = sums.get(day, 0) + n
    assert days == sums


@pytest.mark.parametrize(
    "params",
    [
        {"action": "login"},
        {"severity": "ERROR"},
        {"resource_type": "document"},
        {"user_id": "uma"},
        {"session_id": "s"},
        {"resource_id": "r"},
        {"request_id": "r"},
        {"ip_address": "10.0.0.1"},
        {"q": "login"},
    ],
)
def test_filters_the_rollup_cannot_answer_read_raw_events(dataset, monkeypatch, params):
    refresh()
    answered, reference, used = both_paths(dataset.client("a_auditor"), monkeypatch, params)
    assert not used
    assert answered == reference


def test_the_user_role_reads_its_own_events_raw(dataset, monkeypatch):
    refresh()
    client = dataset.client("a_user")
    answered, reference, used = both_paths(client, monkeypatch, window_params("whole days"))
    assert not used
    assert answered == reference
    assert answered["top_users"] == [{"user_id": "ursula", "count": answered["total"]}]


def test_cross_tenant_stats_stay_apart(dataset, monkeypatch):
    refresh()
    b_body, b_reference, used = both_paths(dataset.client("b_admin"), monkeypatch, {})
    assert used and b_body == b_reference
    assert b_body["total"] == 9
    assert b_body["top_users"] == [{"user_id": "bob", "count": 9}]
    a_body = get(dataset.client("a_auditor"), {})
    assert "bob" not in {row["user_id"] for row in a_body["top_users"]}
    assert a_body["total"] == 60


def test_rollup_tables_are_row_level_secured(dataset):
    refresh()
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")
        cursor.execute("SELECT count(*) FROM logs_event_rollup")
        assert cursor.fetchone() == (0,)
        seed(dataset, "tenant-b", events(1, tenant_id="tenant-b"))
        cursor.execute("SELECT set_config('app.tenant_id', '', true)")
        cursor.execute("SELECT count(*) FROM logs_event_rollup_dirty")
        assert cursor.fetchone() == (0,)
    activate("tenant-a")
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT tenant_id FROM logs_event_rollup")
        assert cursor.fetchall() == [("tenant-a",)]
    assert rollup.dirty_tenants() == ["tenant-b"]  # the owner-run function: ids only


def test_the_rebuild_command_repairs_a_rollup_written_around_the_marks(dataset, monkeypatch):
    refresh()
    activate("tenant-a")
    with connection.cursor() as cursor:  # as a COPY or an older process would leave it
        cursor.execute("UPDATE logs_event_rollup SET n = n + 5")
    answered, reference, _ = both_paths(dataset.client("a_auditor"), monkeypatch, {})
    assert answered != reference
    call_command("stats_rollup", "--all")
    assert_exact_everywhere(dataset, monkeypatch)
    call_command("stats_rollup", "--tenant", "tenant-a", "--since", iso(BASE), "--until", iso(NOW))
    with pytest.raises(CommandError, match="unknown tenant"):
        call_command("stats_rollup", "--tenant", "no-such-tenant")
    with pytest.raises(CommandError, match="--since"):
        call_command("stats_rollup", "--all", "--since", "yesterday")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0.5, 71.5),  # two edge days read as day rows minus their outside hours
        (13.25, 30),  # two partial days, no whole day: hour rows
        (2.1, 9.9),  # inside one day: hour rows
        (5, 100),  # edges of 19 h (day minus hours) and 4 h (hour rows)
    ],
)
def test_the_plan_splits_windows_into_disjoint_pieces(start, end):
    plan = rollup_plan(BASE + start * HOUR, BASE + end * HOUR)
    assert isinstance(plan, Plan)
    days, hours, minus = plan.breakdown_ranges()
    covered = set()
    for lo, hi in days:
        covered |= {lo + i * HOUR for i in range((hi - lo) // HOUR)}
    for lo, hi in minus:
        hours_out = {lo + i * HOUR for i in range((hi - lo) // HOUR)}
        assert hours_out <= covered
        covered -= hours_out
    for lo, hi in hours:
        piece = {lo + i * HOUR for i in range((hi - lo) // HOUR)}
        assert not piece & covered
        covered |= piece
    wanted = {
        plan.hours_start + i * HOUR for i in range((plan.hours_end - plan.hours_start) // HOUR)
    }
    assert covered == wanted
    assert rollup_plan(BASE + 0.1 * HOUR, BASE + 0.9 * HOUR) is None


def test_an_hour_dirtied_after_the_plan_was_made_is_read_raw(dataset, monkeypatch):
    """The statement reports marks it was not planned with; the plan is redone."""
    from logs.stats import rollup_read as stats_rollup

    refresh()
    seed(dataset, "tenant-a", events(3, step=1, offset=30 * 60 + 5, user_id="late"))
    # As if the marks were committed between reading them and the statement.
    monkeypatch.setattr(
        stats_rollup, "DIRTY_SQL", "SELECT now() WHERE %s IS NULL AND %s IS NULL AND %s IS NULL"
    )
    assert_exact_everywhere(dataset, monkeypatch)
    monkeypatch.setattr(stats_rollup, "ATTEMPTS", 1)  # no retry left: the raw path answers
    answered, reference, used = both_paths(dataset.client("a_auditor"), monkeypatch, {})
    assert answered == reference


@pytest.mark.django_db(transaction=True)
def test_a_refresh_waits_for_a_writer_in_flight_and_counts_its_events(parties):
    """The race the marks exist for: a writer holds its hour's mark until COMMIT.

    A writer stores an event into an hour that is already marked dirty and
    waits before committing; a refresh started meanwhile must not recompute
    the hour without that event and drop the mark.
    """
    import threading

    from django.db import connections, transaction

    from logs.validation import parse_event
    from tenants.scoping import resolve_access

    hour = NOW.replace(minute=0, second=0, microsecond=0) - 5 * HOUR
    seed(parties, "tenant-a", [event_body(timestamp=iso(hour + timedelta(minutes=1)))])
    stored, go, refreshed = threading.Event(), threading.Event(), []

    def writer():
        try:
            with transaction.atomic():
                access = resolve_access(parties.a_admin, "tenant-a")
                activate("tenant-a")
                body = event_body(timestamp=iso(hour + timedelta(minutes=2)))
                event = parse_event(body, now=datetime.now(UTC))
                services.event_bulk_create(access=access, events=[event])
                stored.set()
                assert go.wait(10)
        finally:
            connections.close_all()

    def refresher():
        try:
            refreshed.append(rollup.rollup_refresh(tenant_id="tenant-a", batch_hours=24))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer)]
    threads[0].start()
    assert stored.wait(10)
    threads.append(threading.Thread(target=refresher))
    threads[1].start()
    threads[1].join(0.5)
    assert threads[1].is_alive()  # waiting for the writer's lock on the mark
    go.set()
    for thread in threads:
        thread.join(10)
    assert refreshed == [1]
    with transaction.atomic():
        assert dirty_hours() == []
        totals = [n for g, p, d, _, n in rollup_rows() if d == "total" and p == hour]
        assert totals == [2]
