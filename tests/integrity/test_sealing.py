"""Sealing, checkpoints and verification on real PostgreSQL: clean data verifies
clean; each kind of tampering, done as the database superuser, is reported
exactly (which event, which leaf, which checkpoint)."""

from __future__ import annotations

import pytest

from integrity import services
from integrity.verification import tenant_verify
from tests.integrity.conftest import ingest, seal, superuser_sql

pytestmark = pytest.mark.django_db(transaction=True)


def findings(tenant: str) -> set[tuple]:
    return {
        (p.finding, p.event_id, p.leaf_index, p.checkpoint) for p in tenant_verify(tenant_id=tenant)
    }


def test_untouched_logs_verify_clean(parties, sealing):
    ingest(parties, "tenant-a", 5)
    ingest(parties, "tenant-b", 3)
    seal(sealing, "tenant-a", "tenant-b")
    assert findings("tenant-a") == set()
    assert findings("tenant-b") == set()


def leaf_of(tenant: str, event_id: str) -> int:
    from integrity.models import Leaf
    from tests.integrity.conftest import in_tenant

    return in_tenant(
        tenant, lambda: Leaf.objects.get(tenant_id=tenant, event_id=event_id).leaf_index
    )


def test_each_tampering_is_reported_exactly(parties, sealing):
    ids = ingest(parties, "tenant-a", 6)
    other = ingest(parties, "tenant-b", 2)
    seal(sealing, "tenant-a", "tenant-b")
    edited, deleted, swap_1, swap_2 = ids[0], ids[1], ids[3], ids[4]
    superuser_sql("UPDATE logs_event SET action = 'LOGOUT' WHERE id = %s", (edited,))
    superuser_sql("DELETE FROM logs_event WHERE id = %s", (deleted,))
    superuser_sql(
        "UPDATE logs_event e SET timestamp = o.timestamp FROM logs_event o "
        "WHERE (e.id, o.id) IN ((%s::uuid, %s::uuid), (%s::uuid, %s::uuid))",
        (swap_1, swap_2, swap_2, swap_1),
    )
    forged = "00000000-0000-4000-8000-000000000bad"
    superuser_sql(
        "INSERT INTO logs_event "
        "(id, tenant_id, timestamp, user_id, action, resource_type, severity) "
        "SELECT %s, tenant_id, timestamp, user_id, 'GRANT', resource_type, severity "
        "FROM logs_event WHERE id = %s",
        (forged, ids[5]),
    )
    assert findings("tenant-a") == {
        ("edited", edited, leaf_of("tenant-a", edited), None),
        ("deleted", deleted, leaf_of("tenant-a", deleted), None),
        ("edited", swap_1, leaf_of("tenant-a", swap_1), None),
        ("edited", swap_2, leaf_of("tenant-a", swap_2), None),
        ("inserted", forged, None, None),
    }
    assert findings("tenant-b") == set()  # the other tenant is untouched
    assert other


def test_a_changed_or_reordered_leaf_fails_the_checkpoints_that_cover_it(parties, sealing):
    ingest(parties, "tenant-a", 3)
    seal(sealing, "tenant-a")
    ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")  # checkpoints of sizes 3 and 5
    where = "WHERE tenant_id = 'tenant-a' AND leaf_index ="
    superuser_sql(  # leaves 3 and 4 swapped, one transaction
        f"UPDATE integrity_leaf SET leaf_index = -1 {where} 3; "
        f"UPDATE integrity_leaf SET leaf_index = 3 {where} 4; "
        f"UPDATE integrity_leaf SET leaf_index = 4 {where} -1"
    )
    assert findings("tenant-a") == {("checkpoint", None, None, 5)}
    superuser_sql(
        "UPDATE integrity_leaf SET hash = sha256('forged') "
        "WHERE tenant_id = 'tenant-a' AND leaf_index = 1"
    )
    assert ("checkpoint", None, None, 3) in findings("tenant-a")


def test_an_altered_archived_checkpoint_is_reported(parties, sealing):
    from archival import storage

    ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")  # archived after COMMIT
    key = services.archive_key("tenant-a", 2)
    body = storage.get_bytes(key)
    storage.put_bytes(key, body.replace(b'"tree_size": 2', b'"tree_size": 1'), "application/json")
    assert findings("tenant-a") == {("checkpoint", None, None, 2)}
    (problem,) = tenant_verify(tenant_id="tenant-a")
    assert problem.detail == "its archived copy differs"


def test_crypto_shredding_and_retention_keep_the_log_verifiable(parties, sealing):
    from datetime import timedelta

    from encryption.services import keys_shred
    from logs.services import events_delete
    from tenants.scoping import resolve_access
    from tests.integrity.conftest import T0, in_tenant

    ingest(parties, "tenant-a", 4)
    seal(sealing, "tenant-a")
    in_tenant("tenant-a", lambda: keys_shred(tenant_id="tenant-a", actor="alice"))
    access = resolve_access(parties.a_admin, "tenant-a")
    deleted = in_tenant(
        "tenant-a", lambda: events_delete(access=access, before=T0 + timedelta(seconds=2))
    )
    assert deleted == 2
    seal(sealing, "tenant-a")  # the admin event of the shredding, the retention batch
    assert findings("tenant-a") == set()
    # Deleting newer events outside retention is still a finding.
    superuser_sql("DELETE FROM logs_event WHERE tenant_id = 'tenant-a' AND action = 'LOGIN'")
    assert {f[0] for f in findings("tenant-a")} == {"deleted"}
    assert len(findings("tenant-a")) == 2


def test_a_batch_handed_again_seals_nothing_twice(parties, sealing):
    from integrity.models import Tree
    from pipeline import drain as draining
    from pipeline.models import Batch
    from tests.integrity.conftest import in_tenant

    ingest(parties, "tenant-a", 3)
    seal(sealing, "tenant-a")
    batch_ids = list(Batch.objects.filter(tenant_id="tenant-a").values_list("id", flat=True))
    assert draining.redrive(sealing, batch_ids) == len(batch_ids)
    assert in_tenant("tenant-a", lambda: Tree.objects.get(tenant_id="tenant-a").size) == 3
    assert findings("tenant-a") == set()


def test_verify_command_names_each_failure_and_records_a_critical_event(parties, sealing):
    from django.core.management import CommandError, call_command

    from logs.models import Event
    from tests.integrity.conftest import in_tenant

    ids = ingest(parties, "tenant-a", 2)
    ingest(parties, "tenant-b", 1)
    seal(sealing, "tenant-a", "tenant-b")
    call_command("verify")  # clean: no error
    superuser_sql("UPDATE logs_event SET user_id = 'mallory' WHERE id = %s", (ids[1],))
    out = __import__("io").StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify", "--tenant", "tenant-a", stdout=out)
    assert failure.value.returncode == 1
    assert out.getvalue().splitlines() == [
        f"FAIL tenant-a edited: event {ids[1]}, leaf 1: differs from its sealed record"
    ]
    critical = in_tenant(
        "tenant-a",
        lambda: list(
            Event.objects.filter(tenant_id="tenant-a", action="INTEGRITY_FAILURE").values(
                "severity", "category", "metadata"
            )
        ),
    )
    assert len(critical) == 1
    assert critical[0]["severity"] == "CRITICAL"
    assert critical[0]["metadata"]["findings"][0]["event_id"] == ids[1]


def test_archived_events_verify_and_an_altered_archive_object_is_reported(parties, sealing):
    import io
    from datetime import UTC, datetime, timedelta

    import pyarrow.parquet as pq

    from archival import storage
    from archival.archive import archive_tenant_day
    from logs.services import events_delete
    from tenants.scoping import resolve_access
    from tests.integrity.conftest import in_tenant

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = (today - timedelta(days=1)).isoformat()
    old = ingest(parties, "tenant-a", 3, timestamp=yesterday)
    new = ingest(parties, "tenant-a", 1)
    seal(sealing, "tenant-a")
    record = archive_tenant_day("tenant-a", (today - timedelta(days=1)).date())
    access = resolve_access(parties.a_admin, "tenant-a")
    assert in_tenant("tenant-a", lambda: events_delete(access=access, before=today)) == 3
    seal(sealing, "tenant-a")
    assert findings("tenant-a") == set()  # the archived day verifies against the leaves

    (part,) = record.parts
    table = pq.read_table(io.BytesIO(storage.get_bytes(part["key"])))
    users = table.column("user_id").to_pylist()
    changed_at = table.column("id").to_pylist().index(old[1])
    users[changed_at] = "mallory"
    table = table.set_column(table.schema.get_field_index("user_id"), "user_id", [users])
    body = io.BytesIO()
    pq.write_table(table, body)
    storage.put_bytes(part["key"], body.getvalue(), "application/octet-stream")
    (problem,) = tenant_verify(tenant_id="tenant-a")
    assert (problem.finding, problem.event_id) == ("archive", None)
    assert problem.detail.startswith(f"{part['key']}: SHA-256")
    # The record's SHA-256 rewritten too (a database administrator covering tracks):
    # the archived event is then compared with its leaf, and named.
    superuser_sql(
        "UPDATE archival_archived_day "
        "SET parts = jsonb_set(parts, '{0,sha256}', to_jsonb(%s::text)) "
        "WHERE tenant_id = 'tenant-a'",
        (storage.sha256_hex(body.getvalue()),),
    )
    assert findings("tenant-a") == {("edited", old[1], leaf_of("tenant-a", old[1]), None)}
    assert new


def test_checkpoints_removed_from_the_database_are_found_in_the_archive(parties, sealing):
    ids = ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")
    ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")
    # Roll the log back to its first checkpoint: events, leaves, tree and checkpoint.
    where = "WHERE tenant_id = 'tenant-a'"
    superuser_sql(f"DELETE FROM logs_event {where} AND NOT id = ANY(%s::uuid[])", (ids,))
    superuser_sql(f"DELETE FROM integrity_leaf {where} AND leaf_index >= 2")
    superuser_sql(f"DELETE FROM integrity_checkpoint {where} AND tree_size = 4")
    superuser_sql(f"UPDATE integrity_tree SET size = 2 {where}")
    assert findings("tenant-a") == {("checkpoint", None, None, 4)}


def test_sealing_goes_on_without_a_signing_key_and_signs_every_n_leaves(parties, sealing, settings):
    from django.core.exceptions import ImproperlyConfigured

    from integrity.models import Checkpoint, Tree
    from tests.integrity.conftest import in_tenant

    settings.INTEGRITY_CHECKPOINT_EVERY = 3
    settings.INTEGRITY_SIGNING_KEY = ""
    ingest(parties, "tenant-a", 4)
    seal(sealing)  # no checkpoint: nothing signed, nothing failed
    assert in_tenant("tenant-a", lambda: Tree.objects.get(tenant_id="tenant-a").size) == 4
    with pytest.raises(ImproperlyConfigured, match="INTEGRITY_SIGNING_KEY"):
        services.checkpoint_create(tenant_id="tenant-a")
    settings.INTEGRITY_SIGNING_KEY = "a-test-signing-secret-of-forty-characters-at-least"
    ingest(parties, "tenant-a", 3)
    seal(sealing)  # 3 new leaves: the consumer signs at once
    sizes = in_tenant(
        "tenant-a", lambda: list(Checkpoint.objects.values_list("tree_size", flat=True))
    )
    assert sizes == [7]
    assert findings("tenant-a") == set()


def test_a_changed_block_root_is_reported(parties, sealing):
    ingest(parties, "tenant-a", 520)
    seal(sealing, "tenant-a")
    assert findings("tenant-a") == set()
    superuser_sql(
        "UPDATE integrity_block SET hash = sha256('forged') "
        "WHERE tenant_id = 'tenant-a' AND block_index = 1"
    )
    (problem,) = tenant_verify(tenant_id="tenant-a")
    assert (problem.finding, problem.leaf_index) == ("leaf", 256)
    assert problem.detail == "block 1: its stored root differs from its leaves"


def test_key_rotation_keeps_old_checkpoints_verifiable(parties, sealing, settings):
    from integrity.models import SigningKey

    ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")
    settings.INTEGRITY_SIGNING_KEY = "a-rotated-signing-secret-of-forty-characters!"
    ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")
    keys = list(SigningKey.objects.order_by("created_at").values_list("key_id", "retired_at"))
    assert len(keys) == 2 and keys[0][1] is not None and keys[1][1] is None
    published = parties.client(None).get("/api/v1/integrity/keys").json()["keys"]
    assert {k["key_id"] for k in published} == {keys[0][0], keys[1][0]}
    listed = parties.client("a_admin").get("/api/v1/integrity/checkpoints").json()["results"]
    assert [c["key_id"] for c in listed] == [keys[1][0], keys[0][0]]
    assert findings("tenant-a") == set()


def test_the_scheduled_tasks_sign_archive_and_verify(parties, sealing):
    from integrity import tasks
    from pipeline import drain as draining

    ingest(parties, "tenant-a", 2)
    ingest(parties, "tenant-b", 1)
    draining.drain(sealing)
    assert tasks.checkpoints.apply().get() == 2  # both trees grew
    assert tasks.checkpoints.apply().get() == 0  # nothing new
    assert services.archived_sizes("tenant-a") == [2]
    assert tasks.verify_all.apply().get() == {}
    superuser_sql("UPDATE logs_event SET action = 'X' WHERE tenant_id = 'tenant-b'")
    assert tasks.verify_all.apply().get() == {"tenant-b": 1}


def test_integrity_tables_are_under_row_level_security(parties, sealing):
    from integrity.models import Block, Checkpoint, Leaf, Tree
    from tests.integrity.conftest import in_tenant

    ingest(parties, "tenant-a", 260)
    ingest(parties, "tenant-b", 1)
    seal(sealing, "tenant-a", "tenant-b")
    for model in (Leaf, Tree, Checkpoint, Block):

        def tenants(tenant, model=model):  # no filter: row-level security alone
            return in_tenant(tenant, lambda: set(model.objects.values_list("tenant_id", flat=True)))

        assert tenants("tenant-a") == {"tenant-a"}, model
        assert "tenant-a" not in tenants("tenant-b"), model
        assert tenants("") == set(), model


def test_verify_reads_only_the_range_it_is_given(parties, sealing):
    from datetime import timedelta

    from django.core.management import CommandError, call_command

    from tests.integrity.conftest import T0

    ids = ingest(parties, "tenant-a", 3)  # dated T0, T0 + 1 s, T0 + 2 s
    seal(sealing, "tenant-a")
    superuser_sql("UPDATE logs_event SET action = 'X' WHERE id = %s", (ids[0],))
    later = (T0 + timedelta(seconds=1)).isoformat()
    call_command("verify", "--tenant", "tenant-a", "--since", later, "--no-record")
    with pytest.raises(CommandError):
        call_command("verify", "--tenant", "tenant-a", "--until", later, "--no-record")
    with pytest.raises(CommandError, match="--since"):
        call_command("verify", "--since", "yesterday")


def test_a_tenant_rule_on_critical_events_fires_on_a_failed_verification(
    parties, sealing, settings
):
    from alerts.models import Alert
    from integrity.verification import tenant_verify_and_record
    from pipeline import drain as draining
    from pipeline.consumers import by_name
    from tests.integrity.conftest import in_tenant

    rule = {
        "name": "tampering",
        "filters": {"severity": "CRITICAL"},
        "condition": {"type": "any"},
        "cooldown_seconds": 0,
    }
    created = parties.client("a_admin").post(
        "/api/v1/alerts/rules?tenant_id=tenant-a", rule, format="json"
    )
    assert created.status_code == 201, created.json()
    ids = ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")
    superuser_sql("DELETE FROM logs_event WHERE id = %s", (ids[0],))
    assert len(tenant_verify_and_record(tenant_id="tenant-a")) == 1
    settings.PIPELINE_CONSUMERS = ["alerts.evaluate.CONSUMER"]
    draining.drain(by_name("alerts"))
    fired = in_tenant("tenant-a", lambda: list(Alert.objects.values_list("rule__name", flat=True)))
    assert fired == ["tampering"]


def test_events_committed_and_sealed_during_a_verification_are_not_findings(
    parties, sealing, monkeypatch
):
    import threading

    from django.db import connections

    from integrity import verification
    from pipeline import drain as draining

    ingest(parties, "tenant-a", 2)
    seal(sealing, "tenant-a")
    checked_tree = verification._tree_problems

    def meanwhile(*args):
        found = checked_tree(*args)  # the leaves are read; now a writer commits and seals

        def write():
            ingest(parties, "tenant-a", 1)
            draining.drain(sealing)
            connections.close_all()

        worker = threading.Thread(target=write)
        worker.start()
        worker.join()
        return found

    monkeypatch.setattr(verification, "_tree_problems", meanwhile)
    assert tenant_verify(tenant_id="tenant-a") == []
