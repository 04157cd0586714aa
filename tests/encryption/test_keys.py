"""Key rotation, re-wrap to a new master key (local and KMS), crypto-shredding, commands."""

from __future__ import annotations

import secrets

import pytest
from django.core.management import CommandError, call_command

from auditlog_project.aws import kms_client
from encryption import keyring, master, services
from encryption.models import DataKey
from logs.audit import COMMAND
from tests.encryption.helpers import SECRET, get, post, secret_event, stored_text
from tests.logs.test_export import download, rows_of

pytestmark = pytest.mark.django_db

EVERY_FIELD = ["before", "after", "metadata", "message", "user_agent"]


def encrypt_everything(tenant) -> None:
    services.policy_set(tenant=tenant, fields=EVERY_FIELD, actor="alice", origin=COMMAND)


def admin_events(parties, action: str, tenant: str = "tenant-a") -> list[dict]:
    client = parties.client("a_admin" if tenant == "tenant-a" else "b_admin")
    listed = client.get("/api/v1/logs", {"tenant_id": tenant, "category": "admin"}).json()
    return [e for e in listed["results"] if e["action"] == action]


def test_a_rotated_key_encrypts_new_events_and_old_ones_stay_readable(parties):
    old = secret_event()
    post(parties, old)
    call_command("keys_rotate", "--tenant", "tenant-a", "--actor", "ops")
    new = secret_event()
    post(parties, new)

    assert stored_text("tenant-a", old["id"])["before"].startswith('"\\u0001v1.1.')
    assert stored_text("tenant-a", new["id"])["before"].startswith('"\\u0001v1.2.')
    assert get(parties, old["id"])["before"] == old["before"]
    assert get(parties, new["id"])["before"] == new["before"]
    [rotated] = admin_events(parties, "KEY_ROTATE")
    assert rotated["user_id"] == "ops" and rotated["after"] == {"version": 2}


def test_a_rewrap_to_a_new_local_master_key_keeps_everything_readable(parties, settings):
    event = secret_event()
    post(parties, event)
    call_command("keys_rotate", "--tenant", "tenant-a")
    newer = secret_event()
    post(parties, newer)
    old_master = settings.ENCRYPTION_MASTER_KEY

    settings.ENCRYPTION_MASTER_KEY = secrets.token_urlsafe(48)
    keyring.reset()
    # Without the old master key and before the re-wrap, nothing opens: not even
    # the read's own access event can be sealed, so the read answers 503.
    assert_key_unavailable(parties, event["id"])

    settings.ENCRYPTION_RETIRED_MASTER_KEYS = [old_master]
    call_command("keys_rewrap")
    assert set(DataKey.objects.values_list("wrapped_by", flat=True)) == {master.current_id()}

    settings.ENCRYPTION_RETIRED_MASTER_KEYS = []  # the old master key is gone
    keyring.reset()
    assert get(parties, event["id"])["before"] == event["before"]
    assert get(parties, newer["id"])["before"] == newer["before"]
    assert len(admin_events(parties, "KEY_REWRAP")) == 2  # one per key version


def test_a_rewrap_to_kms_keeps_everything_readable_without_the_local_key(parties, settings):
    event = secret_event()
    post(parties, event)
    kms_key = kms_client().create_key(Description="auditlog test")["KeyMetadata"]["KeyId"]

    settings.ENCRYPTION_KMS_KEY_ID = kms_key
    result = services.keys_rewrap(actor="ops")
    assert result.rewrapped == 1
    assert DataKey.objects.get(tenant_id="tenant-a").wrapped_by == f"kms:{kms_key}"
    assert services.keys_rewrap(actor="ops").rewrapped == 0  # safe to run again

    settings.ENCRYPTION_MASTER_KEY = ""
    keyring.reset()
    assert get(parties, event["id"])["before"] == event["before"]
    call_command("keys_rotate", "--tenant", "tenant-a")  # new keys are wrapped by KMS too
    newer = secret_event()
    post(parties, newer)
    assert get(parties, newer["id"])["before"] == newer["before"]
    assert DataKey.objects.get(tenant_id="tenant-a", version=2).wrapped_by == f"kms:{kms_key}"


def test_a_key_version_is_unwrapped_once_per_process(
    parties, monkeypatch, django_capture_on_commit_callbacks
):
    """A rotation or a policy change does not make this process unwrap (a KMS call
    with a KMS master key) the versions it holds again: a version never changes."""
    unwrapped: list[int] = []
    unwrap = master.unwrap

    def counting_unwrap(wrapped, master_id, tenant_id, version):
        unwrapped.append(version)
        return unwrap(wrapped, master_id, tenant_id, version)

    monkeypatch.setattr(master, "unwrap", counting_unwrap)
    old, new = secret_event(), secret_event()
    steps = [
        lambda: post(parties, old),
        lambda: services.key_rotate(tenant_id="tenant-a", actor="ops"),
        lambda: post(parties, new),
        lambda: encrypt_everything(parties.tenant_a),
        lambda: post(parties, secret_event()),
        lambda: get(parties, old["id"]),
        lambda: get(parties, new["id"]),
    ]
    for step in steps:
        with django_capture_on_commit_callbacks(execute=True):  # keys are cached on COMMIT
            step()
    assert get(parties, old["id"])["before"] == old["before"]
    assert get(parties, new["id"])["before"] == new["before"]
    assert stored_text("tenant-a", new["id"])["before"].startswith('"\\u0001v1.2.')
    assert unwrapped == [1, 2]


def test_a_wrapped_key_copied_to_another_tenant_does_not_unwrap(parties):
    post(parties, secret_event("tenant-a"))
    ours = secret_event("tenant-b")
    post(parties, ours)
    theirs = DataKey.objects.get(tenant_id="tenant-a", version=1)
    DataKey.objects.filter(tenant_id="tenant-b", version=1).update(
        wrapped=theirs.wrapped, wrapped_by=theirs.wrapped_by
    )
    keyring.reset()
    assert_key_unavailable(parties, ours["id"], "b_admin", "tenant-b")


def test_a_shredded_tenant_reads_shredded_in_the_api_and_export(parties, settings):
    settings.EXPORT_CHUNK_SIZE = 2
    encrypt_everything(parties.tenant_a)
    events = [secret_event() for _ in range(3)]
    for event in events:
        post(parties, event)
    other = secret_event("tenant-b")
    post(parties, other)

    with pytest.raises(CommandError, match="--yes"):
        call_command("keys_shred", "--tenant", "tenant-a")
    call_command("keys_shred", "--tenant", "tenant-a", "--yes", "--actor", "ops")

    assert DataKey.objects.get(tenant_id="tenant-a", version=1).wrapped is None
    for event in events:
        read = get(parties, event["id"])
        assert {read[name] for name in EVERY_FIELD} == {"[shredded]"}
        assert read["action"] == event["action"]  # unencrypted fields stay
    listed = parties.client("a_auditor").get("/api/v1/logs", {"tenant_id": "tenant-a"}).json()
    shredded = [e for e in listed["results"] if e["id"] in {ev["id"] for ev in events}]
    assert len(shredded) == 3 and all(e["before"] == "[shredded]" for e in shredded)
    for fmt in ("csv", "json", "ndjson"):
        _, text = download(parties.client("a_admin"), tenant_id="tenant-a", format=fmt)
        assert SECRET not in text
        rows = [r for r in rows_of(fmt, text) if r["id"] in {ev["id"] for ev in events}]
        assert len(rows) == 3
        expected = '"[shredded]"' if fmt == "csv" else "[shredded]"
        assert all(r["before"] == expected and r["message"] == "[shredded]" for r in rows)

    # Tenant B is untouched; tenant A's record of the shredding reads in clear.
    assert get(parties, other["id"], "b_admin", "tenant-b")["before"] == other["before"]
    [record] = admin_events(parties, "KEY_SHRED")
    assert record["user_id"] == "ops" and record["after"] == {"destroyed": 1}


def test_a_shredded_tenant_gets_a_new_key_for_new_events(parties):
    post(parties, secret_event())
    services.keys_shred(tenant_id="tenant-a", actor="ops")
    later = secret_event()
    post(parties, later)
    assert get(parties, later["id"])["before"] == later["before"]
    versions = dict(DataKey.objects.filter(tenant_id="tenant-a").values_list("version", "wrapped"))
    assert versions[1] is None and versions[2] is not None  # numbers are never reused


def test_commands_refuse_unknown_tenants(parties):
    with pytest.raises(CommandError, match="unknown tenant"):
        call_command("keys_rotate", "--tenant", "nope")
    with pytest.raises(CommandError, match="unknown tenant"):
        call_command("keys_shred", "--tenant", "nope", "--yes")
    with pytest.raises(CommandError, match="unknown tenant"):
        call_command("keys_rewrap", "--tenant", "tenant-a", "--tenant", "nope")


def test_rewrap_names_a_master_key_that_is_not_configured(parties, settings):
    post(parties, secret_event())
    settings.ENCRYPTION_MASTER_KEY = secrets.token_urlsafe(48)  # the old one is not retired
    with pytest.raises(CommandError, match="not configured"):
        call_command("keys_rewrap")


def assert_key_unavailable(parties, event_id, who="a_admin", tenant="tenant-a"):
    response = parties.client(who).get(f"/api/v1/logs/{event_id}", {"tenant_id": tenant})
    assert response.status_code == 503, response.content
    assert response.json()["type"].endswith("encryption-key-unavailable")
    assert "encryption key" in response.json()["detail"]
