"""Retention steps in process: exactly the expired events go, keys and rollup follow,
a step received twice does nothing twice, a dead worker's step is resumed.

The archive policy is off here (deletion alone); archive-then-delete runs in
tests/archival/test_retention_worker.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from archival.retention import planning, steps
from archival.retention.deletion import delete_range_in_chunks
from jobs.choices import JobKind, JobState, StepPhase
from jobs.models import Job, JobStep
from logs import audit
from tenants.scoping import activate
from tests.archival.helpers import (
    counts_by_day,
    day_start,
    days_ago,
    dirty_hours,
    insert_events,
    key_count,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenants(archive_off):
    parties = archive_off
    insert_events("tenant-a", days_ago(100), 30)
    insert_events("tenant-a", days_ago(92), 20)
    insert_events("tenant-a", days_ago(80), 10)  # within retention
    insert_events("tenant-b", days_ago(100), 25)
    return parties


def start_job(tenant):
    before = planning.effective_before(tenant, None)
    job, plan, _ = planning.job_start(
        tenant=tenant, before=before, kind=JobKind.CLEANUP, requested_by="test", origin=audit.TASK
    )
    return job, plan


def run_all(job) -> list[str]:
    return [steps.step_run(pk) for pk in job.steps.order_by("day").values_list("pk", flat=True)]


def test_a_run_deletes_exactly_the_expired_events_of_one_tenant(tenants):
    b_before = counts_by_day("tenant-b")
    job, plan = start_job(tenants.tenant_a)
    assert plan.to_delete == 50
    assert set(run_all(job)) == {"done"}
    assert counts_by_day("tenant-a") == {days_ago(80): 10}
    assert counts_by_day("tenant-b") == b_before
    assert key_count("tenant-a") == 10  # keys follow their events
    assert key_count("tenant-b") == 25
    job.refresh_from_db()
    assert (job.state, job.done, job.total) == (JobState.SUCCEEDED, 50, 50)
    assert job.result == {"days": 2, "archived": 0, "deleted": 50}
    assert job.finished_at is not None


def test_deleted_hours_are_marked_for_the_stats_rollup(tenants):
    with transaction.atomic():
        activate("tenant-a")
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM logs_event_rollup_dirty WHERE tenant_id = 'tenant-a'")
    job, _ = start_job(tenants.tenant_a)
    run_all(job)
    marked = dirty_hours("tenant-a")
    assert day_start(days_ago(100)) in marked
    today = day_start(days_ago(0))  # the cleanup's own audit event marks its hour
    assert all(hour < day_start(days_ago(90)) for hour in marked if hour < today)
    assert day_start(days_ago(92)) in marked


def test_a_step_received_twice_does_its_work_once(tenants):
    job, _ = start_job(tenants.tenant_a)
    first = job.steps.order_by("day").first()
    assert steps.step_run(first.pk) == "done"
    assert steps.step_run(first.pk) == "skipped"  # the duplicate message
    first.refresh_from_db()
    assert (first.deleted, first.attempts) == (30, 1)
    job.refresh_from_db()
    assert job.done == 30


def test_a_step_running_elsewhere_is_left_alone_until_its_heartbeat_is_stale(tenants, settings):
    job, _ = start_job(tenants.tenant_a)
    step = job.steps.order_by("day").first()
    JobStep.objects.filter(pk=step.pk).update(
        state=JobState.RUNNING, claimed_by="elsewhere:1", heartbeat_at=timezone.now()
    )
    assert steps.step_run(step.pk) == "skipped"
    assert counts_by_day("tenant-a")[days_ago(100)] == 30
    JobStep.objects.filter(pk=step.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOBS_STALE_SECONDS + 1)
    )
    assert steps.step_run(step.pk) == "done"
    assert days_ago(100) not in counts_by_day("tenant-a")


def test_a_crash_between_chunks_resumes_without_losing_or_repeating(tenants, settings):
    """A worker died after deleting (and counting) some chunks: the next one finishes."""
    settings.RETENTION_DELETE_CHUNK = 7
    job, _ = start_job(tenants.tenant_a)
    step = job.steps.order_by("day").first()
    claimed = steps.jobs.step_claim(step.pk)
    start = day_start(step.day)
    chunks = iter(range(2))

    def count_then_die(n):
        steps.jobs.step_count_deleted(claimed, n)
        if next(chunks, None) is None:
            raise KeyboardInterrupt("worker killed")

    with pytest.raises(KeyboardInterrupt):
        delete_range_in_chunks("tenant-a", start, start + timedelta(days=1), counted=count_then_die)
    claimed.refresh_from_db()
    assert claimed.deleted == 14  # two chunks committed and counted; the third rolled back
    assert counts_by_day("tenant-a")[days_ago(100)] == 16
    JobStep.objects.filter(pk=step.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.JOBS_STALE_SECONDS + 1)
    )
    assert steps.step_run(step.pk) == "done"
    claimed.refresh_from_db()
    assert (claimed.deleted, claimed.phase, claimed.attempts) == (30, StepPhase.DONE, 2)
    assert Job.objects.get(pk=job.pk).done == 30


def test_chunked_delete_leaves_the_rows_outside_its_range(tenants, settings):
    start = day_start(days_ago(100))
    deleted = delete_range_in_chunks("tenant-a", start, start + timedelta(days=1), chunk=4)
    assert deleted == 30
    assert counts_by_day("tenant-a") == {days_ago(92): 20, days_ago(80): 10}


def test_a_worker_that_lost_its_claim_writes_nothing(tenants):
    job, _ = start_job(tenants.tenant_a)
    step = job.steps.order_by("day").first()
    mine = steps.jobs.step_claim(step.pk)
    JobStep.objects.filter(pk=step.pk).update(claimed_by="someone-else:2")
    with pytest.raises(steps.jobs.StepLost), transaction.atomic():
        steps.jobs.step_count_deleted(mine, 5)
    assert Job.objects.get(pk=job.pk).done == 0


def test_the_daily_schedule_makes_one_job_per_tenant_and_day(tenants, monkeypatch):
    from archival import tasks

    sent = []
    monkeypatch.setattr(tasks, "send_steps", lambda ids: sent.extend(ids))
    tenants.tenant_b.is_active = False  # offboarding relies on retention
    tenants.tenant_b.save()
    assert tasks.retention_daily() == 2
    with CaptureQueriesContext(connection) as queries:
        assert tasks.retention_daily() == 0  # beat fired twice: nothing new
    assert not [q for q in queries if "logs_event" in q["sql"]]  # and no events counted again
    jobs = Job.objects.filter(kind=JobKind.RETENTION)
    assert sorted(j.tenant_id for j in jobs) == ["tenant-a", "tenant-b"]
    assert len(sent) == JobStep.objects.count()


def test_the_sweep_resends_stale_and_lost_steps_only(tenants, monkeypatch, settings):
    from archival import tasks

    insert_events("tenant-a", days_ago(91), 5)
    job, _ = start_job(tenants.tenant_a)
    first, second, *rest = job.steps.order_by("day")
    old = timezone.now() - timedelta(seconds=settings.JOBS_STALE_SECONDS + 1)
    Job.objects.filter(pk=job.pk).update(created_at=old)
    JobStep.objects.filter(pk=first.pk).update(state=JobState.RUNNING, heartbeat_at=old)
    JobStep.objects.filter(pk=second.pk).update(state=JobState.RUNNING, heartbeat_at=timezone.now())
    JobStep.objects.filter(pk__in=[s.pk for s in rest]).update(state=JobState.SUCCEEDED)
    JobStep.objects.filter(pk=rest[0].pk).update(state=JobState.QUEUED)
    sent = []
    monkeypatch.setattr(tasks, "send_steps", lambda ids: sent.extend(ids))
    assert tasks.jobs_resume() == 2
    assert sorted(sent) == sorted([first.pk, rest[0].pk])
