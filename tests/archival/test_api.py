"""GET /api/v1/archives and /archives/{day}/download: scope, roles, links, access events."""

from __future__ import annotations

import hashlib
import urllib.request
from datetime import timedelta

import pytest
from django.db import transaction

from archival.archive import archive_tenant_day
from archival.choices import ArchiveState
from archival.models import ArchivedDay
from logs.models import Event
from tenants.scoping import activate
from tests.fixtures import matrix_call, matrix_cases

from .conftest import day_events, seed, some_day

pytestmark = pytest.mark.django_db

DAY = some_day(3)
LIST = "/api/v1/archives?tenant_id=tenant-a"
DOWNLOAD = f"/api/v1/archives/{DAY}/download?tenant_id=tenant-a"
# platform_admin, a_admin, a_auditor, a_user, b_user, outsider, anonymous
MATRIX = [
    ("list", "get", LIST, None, [200, 200, 200, 403, 403, 403, 401]),
    ("download", "get", DOWNLOAD, None, [200, 200, 200, 403, 403, 403, 401]),
]


@pytest.fixture
def archived(parties, archive_bucket):
    seed(parties, "tenant-a", day_events(DAY, 4))
    seed(parties, "tenant-b", day_events(DAY, 2, tenant_id="tenant-b", user_id="bob"))
    return archive_tenant_day("tenant-a", DAY), archive_tenant_day("tenant-b", DAY)


def access_events(tenant_id: str, action: str) -> list[Event]:
    with transaction.atomic():
        activate(tenant_id)
        return list(
            Event.objects.filter(resource_type="audit_log", action=action).order_by("received_at")
        )


@pytest.mark.parametrize(("method", "path", "body", "party", "expected"), matrix_cases(MATRIX))
def test_role_matrix(parties, archived, method, path, body, party, expected):
    assert matrix_call(parties, party, method, path, body).status_code == expected


def test_the_list_shows_the_tenants_days_with_counts_sizes_and_checksums(parties, archived):
    record_a, _ = archived
    response = parties.client("a_admin").get(LIST)
    assert response.status_code == 200
    (day,) = response.json()["results"]
    assert day["tenant_id"] == "tenant-a" and day["day"] == DAY.isoformat()
    assert day["state"] == "verified" and day["row_count"] == 4
    assert day["bytes"] == record_a.bytes and day["manifest_sha256"] == record_a.manifest_sha256
    assert day["parts"] == record_a.parts
    assert day["download_url"].endswith(DOWNLOAD)
    # The other tenant sees only its own day.
    (other,) = parties.client("b_admin").get("/api/v1/archives").json()["results"]
    assert other["tenant_id"] == "tenant-b" and other["row_count"] == 2


def test_another_tenants_day_is_not_found_and_its_tenant_refused(parties, archived, archive_bucket):
    seed(
        parties,
        "tenant-b",
        day_events(DAY - timedelta(days=1), 1, tenant_id="tenant-b", user_id="bob"),
    )
    archive_tenant_day("tenant-b", DAY - timedelta(days=1))
    client = parties.client("a_admin")
    only_b = f"/api/v1/archives/{DAY - timedelta(days=1)}/download?tenant_id=tenant-a"
    assert client.get(only_b).status_code == 404
    assert client.get(only_b.replace("tenant-a", "tenant-b")).status_code == 403
    assert client.get("/api/v1/archives?tenant_id=tenant-b").status_code == 403


def test_download_links_fetch_the_objects_as_archived(parties, archived):
    record_a, _ = archived
    response = parties.client("a_auditor").get(DOWNLOAD)
    assert response.status_code == 200
    body = response.json()
    assert body["expires_in"] == 300 and body["day"] == DAY.isoformat()
    with urllib.request.urlopen(body["manifest"]["url"]) as answer:  # noqa: S310 - local moto
        assert hashlib.sha256(answer.read()).hexdigest() == record_a.manifest_sha256
    (part,) = body["parts"]
    assert part["key"].startswith("tenants/tenant-a/")
    with urllib.request.urlopen(part["url"]) as answer:  # noqa: S310 - local moto
        assert hashlib.sha256(answer.read()).hexdigest() == part["sha256"]
    # Signed for ARCHIVE_URL_SECONDS (S3 refuses it after; moto does not check expiry).
    assert "X-Amz-Expires=300" in part["url"] and "X-Amz-Signature=" in part["url"]


def test_reads_of_the_archive_are_recorded_as_access(parties, archived):
    client = parties.client("a_auditor")
    client.get(LIST + "&from=2000-01-01")
    client.get(DOWNLOAD)
    (search,) = [e for e in access_events("tenant-a", "SEARCH") if e.resource_id == "archives"]
    assert search.user_id == "arthur" and search.metadata["results"] == 1
    assert search.metadata["filters"] == {"from": "2000-01-01"}
    (export,) = access_events("tenant-a", "EXPORT")
    assert export.resource_id == f"archive:{DAY}" and export.metadata["results"] == 4
    assert access_events("tenant-b", "EXPORT") == []


def test_days_not_verified_are_listed_without_links_and_not_downloadable(parties, archive_bucket):
    with transaction.atomic():
        activate("tenant-a")
        ArchivedDay.objects.create(
            tenant_id="tenant-a", day=DAY, state=ArchiveState.FAILED, error="S3 down"
        )
    client = parties.client("a_admin")
    (day,) = client.get(LIST + "&state=failed").json()["results"]
    assert day["download_url"] is None and day["error"] == "S3 down"
    assert client.get(LIST + "&state=verified").json()["results"] == []
    assert client.get(DOWNLOAD).status_code == 404


def test_pages_of_days_newest_first(parties, archive_bucket):
    for back in (3, 4, 5):
        archive_tenant_day("tenant-a", some_day(back))
    client = parties.client("a_admin")
    first = client.get(LIST + "&page_size=2").json()
    assert [d["day"] for d in first["results"]] == [str(some_day(3)), str(some_day(4))]
    second = client.get(first["next"]).json()
    assert [d["day"] for d in second["results"]] == [str(some_day(5))]
    assert second["next"] is None
    ranged = client.get(LIST + f"&from={some_day(4)}&to={some_day(4)}").json()["results"]
    assert [d["day"] for d in ranged] == [str(some_day(4))]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (LIST + "&from=2026-13-01", "from"),
        (LIST + "&to=yesterday", "to"),
        (LIST + "&state=done", "state"),
        (LIST + "&tenant=tenant-a", "tenant"),
        (LIST + "&cursor=logs_retrieve", "cursor"),
        ("/api/v1/archives/not-a-day/download?tenant_id=tenant-a", "day"),
        (DOWNLOAD + "&expires=3600", "expires"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(parties, path, field):
    response = parties.client("a_admin").get(path)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
