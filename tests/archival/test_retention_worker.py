"""Retention through SQS and a real Celery worker process: the run, a SIGKILL
mid-run and the resume, and a step that keeps failing (dead-letter queue)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from archival import tasks
from auditlog_project.queues import dead_letter_depth
from jobs.choices import JobState
from jobs.models import Job, JobStep
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


@pytest.fixture
def archive_off(parties):
    for tenant in (parties.tenant_a, parties.tenant_b):
        tenant.archive_before_delete = False
        tenant.save()
    return parties


def test_a_worker_deletes_exactly_the_expired_events_of_one_tenant(
    archive_off, sqs_queues, test_env
):
    insert_events("tenant-a", days_ago(100), 40)
    insert_events("tenant-a", days_ago(95), 30)
    insert_events("tenant-a", days_ago(10), 20)
    insert_events("tenant-b", days_ago(100), 50)
    job = archive_off.client("a_admin").delete(CLEANUP).json()
    assert job["progress"] == {"done": 0, "total": 70}
    with celery_worker(test_env):
        wait_for(lambda: job_state(job["id"]).state == JobState.SUCCEEDED, what="job done")
    body = archive_off.client("a_admin").get(job["status_url"]).json()
    assert body["progress"] == {"done": 70, "total": 70}
    assert body["result"] == {"days": 2, "archived": 0, "deleted": 70}
    assert counts_by_day("tenant-a") == {days_ago(10): 20}
    assert counts_by_day("tenant-b") == {days_ago(100): 50}
    assert (key_count("tenant-a"), key_count("tenant-b")) == (20, 50)


def test_a_worker_killed_mid_run_is_resumed_and_nothing_is_lost_or_repeated(
    archive_off, sqs_queues, test_env, settings
):
    per_day = {days_ago(100): 3000, days_ago(99): 3000, days_ago(98): 3000}
    for day, n in per_day.items():
        insert_events("tenant-a", day, n)
    insert_events("tenant-b", days_ago(100), 100)
    analyze()
    slow = {**test_env, "RETENTION_DELETE_CHUNK": "25"}
    job = archive_off.client("a_admin").delete(CLEANUP).json()
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
    with celery_worker({**test_env, "JOBS_STALE_SECONDS": "1"}):
        wait_for(lambda: job_state(job["id"]).state == JobState.SUCCEEDED, what="job resumed")
        tasks.jobs_resume()  # a duplicate of everything, too late to matter
        time.sleep(3)
    done = job_state(job["id"])
    assert (done.done, done.total, done.result["deleted"]) == (9000, 9000, 9000)
    by_step = dict(JobStep.objects.filter(job_id=job["id"]).values_list("day", "deleted"))
    assert {day: by_step[day] for day in per_day} == per_day  # each event deleted once
    assert sum(by_step.values()) == 9000
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
    with celery_worker(broken):
        wait_for(lambda: job_state(job["id"]).state == JobState.FAILED, what="job failed")
        wait_for(lambda: dead_letter_depth() > dead_before, what="message in the DLQ", timeout=60)
    failed = parties.client("a_admin").get(job["status_url"]).json()
    assert "dead-letter queue" in failed["error"]
    step = JobStep.objects.get(job_id=job["id"])
    assert step.attempts == settings.SQS_MAX_RECEIVE_COUNT
    assert counts_by_day("tenant-a") == {days_ago(100): 10}  # nothing deleted
    ready = parties.client(None).get("/readyz").json()
    assert ready["checks"]["queue"]["dead_letter_messages"] >= 1
