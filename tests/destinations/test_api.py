"""The destination endpoints: roles, tenants, the secret, the SSRF guard at registration."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.db import ProgrammingError
from django.utils import timezone

from destinations import services
from destinations.models import Destination, QueueItem
from encryption import envelope
from tests.destinations.helpers import as_tenant, state
from tests.fixtures import matrix_call, matrix_cases

pytestmark = pytest.mark.django_db

PUBLIC = "https://93.184.216.34/hook"  # a public address: allowed without any DNS
LIST = "/api/v1/destinations?tenant_id=tenant-a"


@pytest.fixture
def dest_a(parties) -> Destination:
    with as_tenant("tenant-a"):
        return services.destination_create(
            tenant=parties.tenant_a, name="siem-a", url=PUBLIC, secret=None, actor="alice"
        ).destination


@pytest.fixture
def dest_b(parties) -> Destination:
    with as_tenant("tenant-b"):
        return services.destination_create(
            tenant=parties.tenant_b, name="siem-b", url=PUBLIC, secret=None, actor="bianca"
        ).destination


ONE = "/api/v1/destinations/{id}?tenant_id=tenant-a"
REPLAY = "/api/v1/destinations/{id}/replay?tenant_id=tenant-a"
NEW = {"name": "new", "url": PUBLIC}
# platform_admin, a_admin, a_auditor, a_user, b_user, outsider, anonymous
DENIED = [403, 403, 403, 401]
MATRIX = [
    ("list", "get", LIST, None, [200, 200, *DENIED]),
    ("create", "post", LIST, NEW, [201, 201, *DENIED]),
    ("get", "get", ONE, None, [200, 200, *DENIED]),
    ("patch", "patch", ONE, {"name": "renamed"}, [200, 200, *DENIED]),
    ("delete", "delete", ONE, None, [204, 204, *DENIED]),
    ("replay", "post", REPLAY, {"from": "2020-01-01T00:00:00Z"}, [202, 202, *DENIED]),
]
MATRIX = [(n, m, p, b, [e[0], e[1], e[2], e[2], e[3], e[4], e[5]]) for n, m, p, b, e in MATRIX]


@pytest.mark.parametrize(("method", "path", "body", "party", "expected"), matrix_cases(MATRIX))
def test_role_matrix(parties, dest_a, method, path, body, party, expected):
    path = path.format(id=dest_a.pk)
    assert matrix_call(parties, party, method, path, body).status_code == expected


def test_another_tenants_destination_is_not_found_and_left_alone(parties, dest_a, dest_b):
    b_admin = parties.client("b_admin")
    where = f"/api/v1/destinations/{dest_a.pk}"
    assert b_admin.get(where).status_code == 404
    assert b_admin.patch(where, {"name": "mine"}, format="json").status_code == 404
    assert (
        b_admin.post(f"{where}/replay", {"from": "2020-01-01T00:00:00Z"}, format="json").status_code
        == 404
    )
    assert b_admin.delete(where).status_code == 404
    assert b_admin.get(f"{where}?tenant_id=tenant-a").status_code == 403
    assert [d["name"] for d in b_admin.get("/api/v1/destinations").json()] == ["siem-b"]
    assert state(dest_a.pk).name == "siem-a"


def test_the_secret_is_shown_once_and_stored_sealed(parties):
    client = parties.client("a_admin")
    created = client.post(LIST, NEW, format="json").json()
    assert len(created["secret"]) >= 32
    shown = client.get(f"/api/v1/destinations/{created['id']}").json()
    assert "secret" not in shown and created["secret"] not in str(client.get(LIST).json())
    stored = state(created["id"]).secret
    assert envelope.is_sealed(stored) and created["secret"] not in stored
    given = client.post(LIST, {**NEW, "name": "given", "secret": "s" * 20}, format="json")
    assert given.json()["secret"] == "s" * 20


def test_bad_input_is_refused_naming_the_field(parties, dest_a):
    client = parties.client("a_admin")
    cases = [
        ({**NEW, "secret": "short"}, "secret"),
        ({"url": PUBLIC}, "name"),
        ({**NEW, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        answer = client.post(LIST, body, format="json")
        assert answer.status_code == 400 and [e["field"] for e in answer.json()["errors"]] == [
            field
        ]
    duplicate = client.post(LIST, {**NEW, "name": "siem-a"}, format="json")
    assert duplicate.status_code == 409 and "siem-a" in duplicate.json()["detail"]
    bad_from = client.post(
        f"/api/v1/destinations/{dest_a.pk}/replay", {"from": "yesterday"}, format="json"
    )
    assert bad_from.status_code == 400 and bad_from.json()["errors"][0]["field"] == "from"


def test_a_tenant_has_a_bounded_number_of_destinations(parties, settings, dest_a):
    settings.DESTINATIONS_MAX_PER_TENANT = 1
    answer = parties.client("a_admin").post(LIST, NEW, format="json")
    assert answer.status_code == 409 and "at most 1" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.216.34/hook", "scheme must be https"),
        ("https://127.0.0.1/hook", "127.0.0.1"),
        ("https://localhost:8443/hook", "localhost"),
        ("https://10.1.2.3/hook", "10.1.2.3"),
        ("https://192.168.0.10/hook", "192.168.0.10"),
        ("https://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("https://100.64.0.1/", "100.64.0.1"),
        ("https://[::1]/hook", "::1"),
        ("https://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1"),
        ("https://[::ffff:100.64.0.1]/hook", "::ffff:100.64.0.1"),  # only refused once unmapped
        ("https://[fe80::1]/hook", "fe80::1"),
        ("https://224.0.0.1/hook", "224.0.0.1"),
        ("https://0.0.0.0/hook", "0.0.0.0"),
        ("https://user:pw@93.184.216.34/hook", "credentials"),
        ("ftp://93.184.216.34/", "scheme"),
        ("https:///nohost", "no host"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
def test_the_ssrf_guard_refuses_urls_under_production_settings(parties, dest_a, url, why):
    client = parties.client("a_admin")
    answer = client.post(LIST, {**NEW, "url": url}, format="json")
    assert answer.status_code == 400, answer.content
    (error,) = answer.json()["errors"]
    assert error["field"] == "url" and why in error["message"], error
    patched = client.patch(f"/api/v1/destinations/{dest_a.pk}", {"url": url}, format="json")
    assert patched.status_code == 400 and patched.json()["errors"][0]["field"] == "url"


@pytest.mark.parametrize("url", [PUBLIC, "https://[::ffff:93.184.216.34]:8443/in?x=1"])
def test_public_addresses_are_allowed_under_production_settings(parties, url):
    answer = parties.client("a_admin").post(LIST, {**NEW, "url": url}, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["url"] == url


def test_the_local_stack_allows_a_receiver_on_this_machine(parties, settings):
    settings.DESTINATIONS_ALLOW_PRIVATE = True
    settings.DESTINATIONS_REQUIRE_HTTPS = False
    answer = parties.client("a_admin").post(
        LIST, {**NEW, "url": "http://127.0.0.1:9999/hook"}, format="json"
    )
    assert answer.status_code == 201


def test_production_settings_refuse_a_relaxed_guard():
    code = "import django; django.setup()"
    env = {
        **os.environ,
        "DESTINATIONS_ALLOW_PRIVATE": "true",
        "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.production",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert done.returncode != 0 and "DESTINATIONS_ALLOW_PRIVATE" in done.stderr


def test_row_level_security_confines_destinations_and_their_queue_to_the_tenant(dest_a):
    """Below the views: the tables themselves answer only the transaction's tenant."""
    with as_tenant("tenant-a"):
        QueueItem.objects.create(
            destination=dest_a,
            seq=1,
            event_ids=[uuid.uuid4()],
            first_timestamp=timezone.now(),
            last_timestamp=timezone.now(),
        )
    for other in ("tenant-b", ""):
        with as_tenant(other):
            assert not Destination.objects.exists() and not QueueItem.objects.exists()
            assert Destination.objects.filter(pk=dest_a.pk).update(name="taken") == 0
    with pytest.raises(ProgrammingError, match="row-level security"), as_tenant("tenant-b"):
        Destination.objects.create(tenant_id="tenant-a", name="planted", url=PUBLIC)
    with as_tenant("tenant-a"):
        assert [d.name for d in Destination.objects.all()] == ["siem-a"]
        assert QueueItem.objects.count() == 1
