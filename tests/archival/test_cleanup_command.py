"""manage.py cleanup: one tenant or all, --before, --dry-run, in process or enqueued."""

from __future__ import annotations

import io
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from jobs.choices import JobState
from jobs.models import Job
from tests.archival.helpers import counts_by_day, days_ago, insert_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def expired(archive_off):
    parties = archive_off
    insert_events("tenant-a", days_ago(100), 12)
    insert_events("tenant-a", days_ago(50), 5)
    insert_events("tenant-b", days_ago(100), 7)
    return parties


def run(*args) -> str:
    out = io.StringIO()
    call_command("cleanup", *args, stdout=out)
    return out.getvalue()


def test_dry_run_counts_per_tenant_and_changes_nothing(expired):
    out = run("--all", "--dry-run")
    assert (
        f"tenant-a: before {days_ago(90).isoformat()}T00:00:00+00:00: 0 to archive, 12 to delete"
        in out
    )
    assert "tenant-b: before" in out and "7 to delete" in out
    assert not Job.objects.exists()
    assert counts_by_day("tenant-a")[days_ago(100)] == 12


def test_one_tenant_is_cleaned_up_in_process_with_a_progress_line(expired):
    out = run("--tenant", "tenant-a")
    assert "tenant-a cleanup 1/1 (100%) 12 rows" in out
    assert "succeeded: 0 archived, 12 deleted of 12" in out
    assert counts_by_day("tenant-a") == {days_ago(50): 5}
    assert counts_by_day("tenant-b") == {days_ago(100): 7}
    job = Job.objects.get()
    assert (job.tenant_id, job.state, job.params["requested_by"]) == (
        "tenant-a",
        JobState.SUCCEEDED,
        "command",
    )


def test_before_reaches_further_within_the_retention_rule(expired):
    expired.tenant_a.retention_days = 30
    expired.tenant_a.save()
    assert "17 to delete" in run(
        "--tenant", "tenant-a", "--before", days_ago(40).isoformat(), "--dry-run"
    )
    with pytest.raises(CommandError, match="retention of 30 days"):
        run("--tenant", "tenant-a", "--before", days_ago(1).isoformat())
    with pytest.raises(CommandError, match="UTC offset"):
        run("--tenant", "tenant-a", "--before", "2026-01-01T00:00:00")
    with pytest.raises(CommandError, match="unknown tenant"):
        run("--tenant", "nope")


def test_enqueue_hands_the_steps_to_the_workers(expired):
    with mock.patch("archival.tasks.send_steps") as sent:
        out = run("--tenant", "tenant-a", "--enqueue")
    assert "sent (12 events)" in out
    (ids,), _ = sent.call_args
    assert len(ids) == 1
    assert counts_by_day("tenant-a")[days_ago(100)] == 12
