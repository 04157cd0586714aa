"""DELETE /api/v1/logs/cleanup and GET /api/v1/jobs/{id}: shapes, bounds, roles, tenants."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from jobs.models import Job, JobStep
from tests.archival.helpers import day_start, days_ago, insert_events
from tests.fixtures import MATRIX_PARTIES, matrix_call

pytestmark = pytest.mark.django_db

CLEANUP = "/api/v1/logs/cleanup?tenant_id=tenant-a"


@pytest.fixture
def expired(parties):
    """Tenant A (retention 90): 3 events 100 days ago, 2 events 95 days ago, 4 today;
    tenant B: 5 events 100 days ago."""
    insert_events("tenant-a", days_ago(100), 3)
    insert_events("tenant-a", days_ago(95), 2)
    insert_events("tenant-a", days_ago(0), 4)
    insert_events("tenant-b", days_ago(100), 5)
    return parties


@pytest.fixture
def no_sending():
    """Jobs are created, their messages not sent (the worker tests send them)."""
    with mock.patch("archival.tasks.send_steps") as sent:
        yield sent


def test_dry_run_counts_the_expired_events_of_the_tenant_only(expired):
    response = expired.client("a_admin").delete(CLEANUP + "&dry_run=true")
    assert response.status_code == 200, response.json()
    cutoff = day_start(days_ago(90))
    assert response.json() == {
        "before": cutoff.isoformat().replace("+00:00", "Z"),
        "to_archive": 5,
        "to_delete": 5,
    }
    assert not Job.objects.exists()


def test_dry_run_with_archive_off_archives_nothing_and_before_is_rounded_to_its_day(expired):
    expired.tenant_a.archive_before_delete = False
    expired.tenant_a.save()
    before = (day_start(days_ago(98)) + timedelta(hours=13)).isoformat()
    response = expired.client("a_admin").delete(
        CLEANUP + "&dry_run=true&before=" + before.replace("+", "%2B")
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["to_archive"], body["to_delete"]) == (0, 3)
    assert body["before"].startswith(days_ago(98).isoformat() + "T00:00:00")


def test_cleanup_answers_202_with_the_job_and_one_step_per_day(expired, no_sending):
    response = expired.client("a_admin").delete(CLEANUP)
    assert response.status_code == 202, response.json()
    job = response.json()
    assert set(job) == {
        "id",
        "kind",
        "tenant_id",
        "state",
        "progress",
        "result",
        "error",
        "created_at",
        "finished_at",
        "status_url",
    }
    assert (job["kind"], job["tenant_id"], job["state"]) == ("cleanup", "tenant-a", "queued")
    assert job["progress"] == {"done": 0, "total": 5}
    assert job["status_url"] == f"/api/v1/jobs/{job['id']}"
    assert response["Location"] == job["status_url"]
    days = list(JobStep.objects.filter(job_id=job["id"]).values_list("day", flat=True))
    assert days == [days_ago(100), days_ago(95)]  # the expired days that have events
    assert expired.client("a_admin").get(job["status_url"]).json()["id"] == job["id"]


def test_cleanup_with_nothing_expired_is_a_finished_job(parties, no_sending):
    response = parties.client("a_admin").delete(CLEANUP)
    assert response.status_code == 202
    body = response.json()
    assert body["state"] == "succeeded"
    assert body["result"] == {"days": 0, "archived": 0, "deleted": 0}
    assert body["finished_at"] is not None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("&before=" + "2999-01-01T00:00:00Z", "before"),
        ("&before=not-a-date", "before"),
        ("&dry_run=perhaps", "dry_run"),
        ("&colour=red", "colour"),
    ],
)
def test_bad_input_is_400_naming_the_field(parties, no_sending, query, field):
    response = parties.client("a_admin").delete(CLEANUP + query)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Job.objects.exists()


def test_a_before_later_than_the_retention_names_the_latest_allowed(parties, no_sending):
    later = (timezone.now() - timedelta(days=89)).isoformat().replace("+", "%2B")
    response = parties.client("a_admin").delete(CLEANUP + "&before=" + later)
    assert response.status_code == 400
    message = response.json()["errors"][0]["message"]
    assert "retention of 90 days" in message


# platform_admin, a_admin, a_auditor, a_user, b_user, outsider, anonymous
CLEANUP_MATRIX = [202, 202, 403, 403, 403, 403, 401]


@pytest.mark.parametrize(
    ("party", "expected"), list(zip(MATRIX_PARTIES, CLEANUP_MATRIX, strict=True))
)
def test_cleanup_role_matrix(parties, no_sending, party, expected):
    response = matrix_call(parties, party, "delete", CLEANUP, None)
    assert response.status_code == expected
    dry = matrix_call(parties, party, "delete", CLEANUP + "&dry_run=true", None)
    assert dry.status_code == (200 if expected == 202 else expected)


def test_another_tenants_admin_cannot_clean_up_or_see_the_job(expired, no_sending):
    b_admin = expired.client("b_admin")
    assert b_admin.delete(CLEANUP).status_code == 403
    job = expired.client("a_admin").delete(CLEANUP).json()
    assert b_admin.get(job["status_url"]).status_code == 404
    assert b_admin.get(job["status_url"] + "?tenant_id=tenant-b").status_code == 404
    assert expired.client("b_user").get(job["status_url"]).status_code == 404
    assert expired.client("outsider").get(job["status_url"]).status_code == 404
    # B's own cleanup touches B's events only: its total is B's 5.
    b_job = b_admin.delete("/api/v1/logs/cleanup?tenant_id=tenant-b").json()
    assert b_job["progress"]["total"] == 5
    assert expired.client("a_admin").get(b_job["status_url"]).status_code == 404


JOB_MATRIX = [200, 200, 403, 403, 404, 404, 401]


@pytest.mark.parametrize(("party", "expected"), list(zip(MATRIX_PARTIES, JOB_MATRIX, strict=True)))
def test_job_role_matrix(expired, no_sending, party, expected):
    job = expired.client("a_admin").delete(CLEANUP).json()
    response = matrix_call(expired, party, "get", job["status_url"], None)
    assert response.status_code == expected


def test_unknown_job_is_404(parties):
    missing = "/api/v1/jobs/00000000-0000-0000-0000-000000000000"
    assert parties.client("a_admin").get(missing).status_code == 404
    assert parties.client("platform_admin").get(missing).status_code == 404


def test_each_cleanup_is_recorded_in_the_tenants_log(expired, no_sending):
    admin = expired.client("a_admin")
    job = admin.delete(CLEANUP).json()
    admin.delete(CLEANUP + "&dry_run=true")
    events = admin.get("/api/v1/logs?tenant_id=tenant-a&action=CLEANUP").json()["results"]
    by_category = {e["category"]: e for e in events}
    assert set(by_category) == {"admin", "access"}
    cleanup = by_category["admin"]
    assert (cleanup["user_id"], cleanup["resource_type"]) == ("alice", "audit_log")
    assert cleanup["resource_id"] == job["id"]
    cutoff = day_start(days_ago(90)).isoformat()
    assert cleanup["metadata"] | {"via": "api"} == {
        "via": "api",
        "job_id": job["id"],
        "kind": "cleanup",
        "before": cutoff,
        "archive": True,
        "to_archive": 5,
        "to_delete": 5,
        "days": 2,
    }
    dry = by_category["access"]
    assert (dry["metadata"]["results"], dry["metadata"]["dry_run"]) == (5, True)
    b_events = expired.client("b_admin").get("/api/v1/logs?tenant_id=tenant-b&action=CLEANUP")
    assert b_events.json()["results"] == []
