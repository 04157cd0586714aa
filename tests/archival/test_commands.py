"""manage.py archive and archive_restore, as an operator runs them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from archival.choices import ArchiveState
from archival.models import ArchivedDay
from logs.models import Event
from tenants.scoping import activate

from .conftest import day_events, events_of_day, seed, some_day
from .test_restore import delete_day

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_archive_then_restore_a_range_of_days(parties, archive_bucket):
    first, second = some_day(4), some_day(3)
    seed(parties, "tenant-a", day_events(first, 3) + day_events(second, 2))

    out = run("archive", "--tenant", "tenant-a", "--from", str(first), "--to", str(second))

    assert "archive 1/2 (50%) 3 rows" in out and f"tenant-a {second}: 2 rows verified" in out
    assert "archived 5 events of 2 tenant-days" in out
    with transaction.atomic():
        activate("tenant-a")
        states = dict(ArchivedDay.objects.values_list("day", "state"))
    assert states == {first: ArchiveState.VERIFIED, second: ArchiveState.VERIFIED}

    delete_day("tenant-a", first)
    out = run(
        "archive_restore",
        "--tenant",
        "tenant-a",
        "--from",
        str(first - timedelta(days=1)),
        "--to",
        str(second),
    )
    assert f"{first}: 3 of 3 restored" in out and f"{second}: 0 of 2 restored" in out
    assert f"no archive for: {first - timedelta(days=1)}" in out
    assert "restored 3 events (5 archived rows read)" in out
    assert len(events_of_day("tenant-a", first)) == 3
    with transaction.atomic():
        activate("tenant-a")
        (note,) = Event.objects.filter(action="ARCHIVE_RESTORE")
    assert note.category == "admin" and note.metadata["restored"] == 3
    assert note.metadata["from"] == str(first - timedelta(days=1)) and note.user_id == "system"


def test_archive_all_tenants_covers_each_alone(parties, archive_bucket):
    day = some_day()
    seed(parties, "tenant-b", day_events(day, 2, tenant_id="tenant-b", user_id="bob"))
    out = run("archive", "--all", "--from", str(day), "--to", str(day))
    assert f"tenant-a {day}: 0 rows verified" in out and f"tenant-b {day}: 2 rows verified" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tenant", "nope", "--from", "2026-01-01", "--to", "2026-01-02"], "unknown tenant"),
        (["--tenant", "tenant-a", "--from", "2026-13-01", "--to", "2026-01-02"], "--from"),
        (["--tenant", "tenant-a", "--from", "2026-01-03", "--to", "2026-01-02"], "before --from"),
    ],
)
def test_commands_refuse_bad_input(parties, args, message):
    for command in ("archive", "archive_restore"):
        with pytest.raises(CommandError, match=message):
            run(command, *args)


def test_archive_refuses_a_day_that_has_not_ended(parties):
    today = datetime.now(UTC).date()
    with pytest.raises(CommandError, match="has ended"):
        run("archive", "--tenant", "tenant-a", "--from", str(today), "--to", str(today))
