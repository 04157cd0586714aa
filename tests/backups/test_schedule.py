"""Scheduled backups: once per period however often beat asks, through SQS to a
real worker, one at a time, and pruned by their own retention."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from auditlog_project.aws import s3_client
from backups import services, store
from backups.tasks import scheduled_backup
from tests.processes import celery_worker


@pytest.fixture
def scheduled(settings, backup_prefix, test_db_source):
    """Scheduled backups of the session's test database, hourly."""
    settings.BACKUP_SCHEDULE = "hourly"
    settings.BACKUP_DATABASE_URL = (
        f"postgres://{test_db_source.user}@{test_db_source.host or '127.0.0.1'}:"
        f"{test_db_source.port or 5432}/{test_db_source.name}"
    )
    return settings


def ids() -> list[str]:
    return [backup.backup_id for backup in store.stored_backups()]


def test_one_backup_per_period_however_often_it_runs(scheduled):
    noon = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)
    first = services.scheduled_backup_run(now=noon)
    assert first["status"] == "created" and first["backup_id"] == "hourly-20261130T12"
    again = services.scheduled_backup_run(now=noon + timedelta(minutes=50))
    assert again["status"] == "exists"
    assert services.scheduled_backup_run(now=noon + timedelta(hours=1))["status"] == "created"
    assert ids() == ["hourly-20261130T12", "hourly-20261130T13"]
    scheduled.BACKUP_SCHEDULE = "daily"
    assert services.scheduled_backup_run(now=noon)["backup_id"] == "daily-20261130"


def test_a_run_that_finds_another_one_working_leaves_it_alone(scheduled):
    source = services.source_database()
    with source.connect(autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [services._LOCK_KEY])
        result = services.scheduled_backup_run(now=datetime(2026, 11, 30, 9, tzinfo=UTC))
    assert result == {"status": "busy", "backup_id": "hourly-20261130T09"}
    assert ids() == []


def test_off_means_off(scheduled):
    scheduled.BACKUP_SCHEDULE = "off"
    assert services.scheduled_backup_run() == {"status": "off"}
    assert ids() == []


def test_retention_keeps_the_newest_and_the_young(scheduled, test_db_source):
    for backup_id in ("b1", "b2", "b3"):
        services.backup_create(source=test_db_source, backup_id=backup_id)
        time.sleep(1.1)  # the store's times have one-second resolution
    s3_client().put_object(  # a crashed backup: a dump without its manifest
        Bucket=settings.BACKUP_BUCKET, Key=f"{settings.BACKUP_PREFIX}crashed/database.pgdump"
    )
    scheduled.BACKUP_KEEP_COUNT, scheduled.BACKUP_KEEP_DAYS = 2, 3
    now = datetime.now(UTC)
    assert services.backups_prune(now=now) == []  # all younger than three days
    assert services.backups_prune(now=now + timedelta(days=2)) == []
    assert services.backups_prune(now=now + timedelta(days=4)) == ["b1", "crashed"]
    assert ids() == ["b2", "b3"]
    scheduled.BACKUP_KEEP_COUNT = 1
    assert services.backups_prune(now=now + timedelta(days=4)) == ["b2"]
    assert services.backups_prune(now=now + timedelta(days=400)) == []  # never the newest


def test_the_scheduled_run_prunes_too(scheduled, test_db_source):
    services.backup_create(source=test_db_source, backup_id="old")
    time.sleep(1.1)
    scheduled.BACKUP_KEEP_COUNT, scheduled.BACKUP_KEEP_DAYS = 1, 0
    result = services.scheduled_backup_run(now=datetime.now(UTC) + timedelta(seconds=5))
    assert result["status"] == "created" and result["pruned"] == ["old"]


def test_beat_schedules_the_task():
    entry = settings.CELERY_BEAT_SCHEDULE["backups-scheduled"]
    assert entry == {
        "task": "backups.scheduled_backup",
        "schedule": float(settings.BACKUP_CHECK_SECONDS),
    }


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_the_backup_from_sqs(scheduled, sqs_queues, test_env):
    env = dict(
        test_env,
        BACKUP_SCHEDULE="daily",
        BACKUP_DATABASE_URL=scheduled.BACKUP_DATABASE_URL,
        BACKUP_PREFIX=scheduled.BACKUP_PREFIX,
    )
    expected = services.period_backup_id("daily", datetime.now(UTC))
    scheduled_backup.delay()  # to SQS; nothing runs it in this process
    scheduled_backup.delay()  # delivered twice: still one backup
    with celery_worker(env):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and store.manifest_get(expected) is None:
            time.sleep(0.5)
        time.sleep(2)  # the second message's run, if it were to make another
    assert ids() == [expected]
    assert store.manifest_get(expected)["kind"] == "scheduled"


def test_the_command_lists_prunes_and_runs_the_schedule(scheduled, test_db_source):
    from io import StringIO

    from django.core.management import call_command

    def run(*flags: str) -> str:
        out = StringIO()
        call_command("backup", *flags, stdout=out)
        return out.getvalue()

    assert run("--scheduled").startswith("{'status': 'created'")
    services.backup_create(source=test_db_source, backup_id="manual-one")
    listed = run("--list").splitlines()
    assert [line.split("\t")[:2] for line in listed] == [
        [services.period_backup_id("hourly", datetime.now(UTC)), "complete"],
        ["manual-one", "complete"],
    ]
    assert run("--prune") == "pruned: nothing\n"
