"""Retention through SQS and a real Celery worker process: the run, a SIGKILL
mid-run and the resume, and a step that keeps failing (dead-letter queue)."""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC

import pytest
from django.conf import settings
from django.db import transaction

from archival import tasks
from archival.choices import ArchiveState
from archival.models import ArchivedDay
from auditlog_project.queues import dead_letter_depth
from jobs.choices import JobState
from jobs.models import Job, JobStep
from logs.models import Event
from tenants.scoping import activate
from tests.archival.conftest import read_part
from tests.archival.helpers import analyze, counts_by_day, days_ago, insert_events, key_count
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)

CLEANUP = "/api/v1/logs/cleanup?tenant_id=tenant-a"


def wait_for(predicate, timeout: float = 90, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached in {timeout}s")


def job_state(job_id) -> Job:
    return Job.objects.get(pk=job_id)


def ids_by_day(tenant_id: str) -> dict:
    with transaction.atomic():
        activate(tenant_id)
        rows = Event.objects.filter(category="application").values_list("timestamp", "id")
        by_day: dict = {}
        for timestamp, event_id in rows:
            by_day.setdefault(timestamp.astimezone(UTC).date(), set()).add(str(event_id))
        return by_day


def archived_ids(tenant_id: str, day) -> list[str]:
    """Every event id in the day's archive, as often as it occurs there."""
    with transaction.atomic():
        activate(tenant_id)
        record = ArchivedDay.objects.get(tenant_id=tenant_id, day=day)
    assert record.state == ArchiveState.VERIFIED
    ids = []
    for part in record.parts:
        ids += [str(row["id"]) for row in read_part(settings.ARCHIVE_BUCKET, part["key"])]
    assert len(ids) == record.row_count
    return ids


def worker_env(test_env: dict, **extra: str) -> dict:
    return {**test_env, "ARCHIVE_BUCKET": settings.ARCHIVE_BUCKET, **extra}


def test_a_worker_archives_and_deletes_exactly_the_expired_events_of_one_tenant(
    parties, sqs_queues, test_env, archive_bucket
):
    insert_events("tenant-a", days_ago(100), 40)
    insert_events("tenant-a", days_ago(95), 30)
    insert_events("tenant-a", days_ago(10), 20)
    insert_events("tenant-b", days_ago(100), 50)
    expired = {day: ids for day, ids in ids_by_day("tenant-a").items() if day < days_ago(90)}
    job = parties.client("a_admin").delete(CLEANUP).json()
    assert job["progress"] == {"done": 0, "total": 70}
    with celery_worker(worker_env(test_env)):
        wait_for(lambda: job_state(job["id"]).state == JobState.SUCCEEDED, what="job done")
    body = parties.client("a_admin").get(job["status_url"]).json()
    assert body["progress"] == {"done": 70, "total": 70}
    assert body["result"] == {"days": 2, "archived": 70, "deleted": 70}
    for day, ids in expired.items():
        assert sorted(archived_ids("tenant-a", day)) == sorted(ids)
    assert counts_by_day("tenant-a") == {days_ago(10): 20}
    assert counts_by_day("tenant-b") == {days_ago(100): 50}
    assert (key_count("tenant-a"), key_count("tenant-b")) == (20, 50)
    with transaction.atomic():
        activate("tenant-b")
        assert not ArchivedDay.objects.exists()  # nothing of B archived either


def test_archive_off_deletes_without_archiving(archive_off, sqs_queues, test_env):
    insert_events("tenant-a", days_ago(100), 15)
    job = archive_off.client("a_admin").delete(CLEANUP).json()
    with celery_worker(test_env):
        wait_for(lambda: job_state(job["id"]).state == JobState.SUCCEEDED, what="job done")
    assert job_state(job["id"]).result == {"days": 1, "archived": 0, "deleted": 15}
    assert counts_by_day("tenant-a") == {}
    with transaction.atomic():
        activate("tenant-a")
        assert not ArchivedDay.objects.exists()


def test_a_worker_killed_mid_run_is_resumed_and_nothing_is_lost_or_repeated(
    parties, sqs_queues, test_env, settings, archive_bucket
):
    per_day = {days_ago(100): 3000, days_ago(99): 3000, days_ago(98): 3000}
    for day, n in per_day.items():
        insert_events("tenant-a", day, n)
    insert_events("tenant-b", days_ago(100), 100)
    analyze()
    expired = ids_by_day("tenant-a")
    slow = worker_env(test_env, RETENTION_DELETE_CHUNK="25")
    job = parties.client("a_admin").delete(CLEANUP).json()
    with celery_worker(slow) as worker:
        wait_for(lambda: job_state(job["id"]).done >= 500, what="some chunks deleted")
        os.killpg(worker.pid, signal.SIGKILL)  # no shutdown, no ack, no cleanup
        worker.wait()
    killed = job_state(job["id"])
    assert 0 < killed.done < 9000
    assert killed.state == JobState.RUNNING
    in_database = sum(counts_by_day("tenant-a").values())
    assert in_database == 9000 - killed.done  # progress is exact: counted with each chunk

    # Running again: the sweep (beat, every few minutes) re-sends what the dead
    # worker held once its heartbeat is stale, and what it never started.
    settings.JOBS_STALE_SECONDS = 1
    time.sleep(1.5)
    assert tasks.jobs_resume() >= 1
    with celery_worker(worker_env(test_env, JOBS_STALE_SECONDS="1")):
        wait_for(lambda: job_state(job["id"]).state == JobState.SUCCEEDED, what="job resumed")
        tasks.jobs_resume()  # a duplicate of everything, too late to matter
        time.sleep(3)
    done = job_state(job["id"])
    assert (done.done, done.total, done.result["deleted"]) == (9000, 9000, 9000)
    assert done.result["archived"] == 9000
    by_step = dict(JobStep.objects.filter(job_id=job["id"]).values_list("day", "deleted"))
    assert by_step == per_day  # each event deleted once
    for day, ids in expired.items():
        archived = archived_ids("tenant-a", day)
        assert len(archived) == len(set(archived)) == per_day[day]  # archived once
        assert set(archived) == ids
    assert counts_by_day("tenant-a") == {}
    assert counts_by_day("tenant-b") == {days_ago(100): 100}
    assert key_count("tenant-b") == 100


def test_a_step_that_keeps_failing_ends_in_the_dead_letter_queue(
    parties, sqs_queues, test_env, settings
):
    """Archive policy on and cold storage unreachable: nothing is deleted, the message
    is received SQS_MAX_RECEIVE_COUNT times, then waits in the dead-letter queue."""
    insert_events("tenant-a", days_ago(100), 10)
    dead_before = dead_letter_depth()
    job = parties.client("a_admin").delete(CLEANUP).json()
    broken = {
        **test_env,
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "JOBS_RETRY_BACKOFF_SECONDS": "0",
    }
    with celery_worker(worker_env(broken)):
        wait_for(lambda: job_state(job["id"]).state == JobState.FAILED, what="job failed")
        wait_for(lambda: dead_letter_depth() > dead_before, what="message in the DLQ", timeout=60)
    failed = parties.client("a_admin").get(job["status_url"]).json()
    assert "dead-letter queue" in failed["error"]
    step = JobStep.objects.get(job_id=job["id"])
    assert step.attempts == settings.SQS_MAX_RECEIVE_COUNT
    assert counts_by_day("tenant-a") == {days_ago(100): 10}  # nothing deleted
    ready = parties.client(None).get("/readyz").json()
    assert ready["checks"]["queue"]["dead_letter_messages"] >= 1
