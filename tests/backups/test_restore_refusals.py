"""What restore refuses, and what a failed backup leaves behind.

Backups here are of the session's test database (read as the backup role);
restores go to databases of the test's own (`scratch_names`).
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command

from auditlog_project.aws import s3_client
from backups import pg, services, store
from backups.errors import BackupError, RestoreMismatch
from backups.fingerprint import database_fingerprint

pytestmark = pytest.mark.usefixtures("backup_prefix")


def stored_object(backup_id: str, name: str) -> bytes:
    key = f"{settings.BACKUP_PREFIX}{backup_id}/{name}"
    return s3_client().get_object(Bucket=settings.BACKUP_BUCKET, Key=key)["Body"].read()


def replace_object(backup_id: str, name: str, body: bytes) -> None:
    key = f"{settings.BACKUP_PREFIX}{backup_id}/{name}"
    s3_client().put_object(Bucket=settings.BACKUP_BUCKET, Key=key, Body=body)


def restore(backup_id: str, target: str, *flags: str) -> None:
    call_command("restore", backup_id, "--target", target, *flags)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:100] + bytes([b[100] ^ 1]) + b[101:], id="one-bit-flipped"),
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
    ],
)
def test_a_corrupted_backup_is_refused_and_nothing_is_created(
    test_db_source, scratch_names, damage
):
    services.backup_create(source=test_db_source, backup_id="damaged")
    replace_object("damaged", store.DUMP_NAME, damage(stored_object("damaged", store.DUMP_NAME)))
    target = scratch_names()
    with pytest.raises(CommandError, match="backup damaged is corrupt.*Nothing was restored"):
        restore("damaged", target)
    assert not pg.database_exists(services.restore_target(target))


def test_a_backup_without_its_manifest_is_not_restorable(test_db_source, scratch_names):
    services.backup_create(source=test_db_source, backup_id="half")
    s3_client().delete_object(
        Bucket=settings.BACKUP_BUCKET, Key=f"{settings.BACKUP_PREFIX}half/{store.MANIFEST_NAME}"
    )
    with pytest.raises(CommandError, match="no complete backup 'half'"):
        restore("half", scratch_names())
    with pytest.raises(CommandError, match="no complete backup 'nothing-here'"):
        restore("nothing-here", scratch_names())


def test_a_non_empty_target_is_refused_unless_forced(test_db_source, scratch_names):
    services.backup_create(source=test_db_source, backup_id="twice")
    target = scratch_names()
    restore("twice", target)
    with pytest.raises(CommandError, match=f"database '{target}' is not empty.*--force"):
        restore("twice", target)
    restore("twice", target, "--force")  # replaced, and verified again
    checker = services.source_database().named(target)
    with checker.connect() as conn:
        assert (
            database_fingerprint(conn)["tables"]
            == services.backup_create(source=test_db_source, backup_id="again")["tables"]
        )


def test_an_empty_existing_target_is_restored_into(test_db_source, scratch_names):
    services.backup_create(source=test_db_source, backup_id="into-empty")
    target = services.restore_target(scratch_names())
    pg.database_create(target)
    restore("latest", target.name)
    assert pg.database_has_tables(target)


def test_restored_rows_that_differ_from_the_manifest_are_reported(test_db_source, scratch_names):
    manifest = services.backup_create(source=test_db_source, backup_id="lying")
    manifest["tables"]["tenants_tenant"]["*"] = {"rows": 5, "sha256": "0" * 64}
    replace_object("lying", store.MANIFEST_NAME, json.dumps(manifest).encode())
    target = services.restore_target(scratch_names())
    with pytest.raises(RestoreMismatch, match=r"table tenants_tenant \[\*\]: expected"):
        services.backup_restore(
            backup_id="lying", target=target, checker=services.source_database()
        )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["x", "--target", "Robert'); DROP"], "is not a plain name"),
        (["../etc", "--target", "fine_name"], "backup id '../etc' is not valid"),
        (["latest", "--target", "fine_name"], "there is no complete backup"),
    ],
)
def test_bad_arguments_get_clear_errors(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("restore", *arguments)


def test_an_unreachable_source_is_named(test_db_source):
    missing = test_db_source.named("no_such_database_here")
    with pytest.raises(BackupError, match="cannot connect to .*no_such_database_here.*not exist"):
        services.backup_create(source=missing, backup_id="failed")
    assert store.stored_backups() == []


def test_a_dump_that_fails_midway_leaves_no_backup(test_db_source, monkeypatch, tmp_path):
    """pg_dump writes part of a dump, then fails: nothing of it stays in the store."""
    fake = tmp_path / "pg_dump"
    fake.write_text("#!/bin/sh\nhead -c 100000 /dev/urandom\necho 'disk on fire' >&2\nexit 1\n")
    fake.chmod(0o755)
    real_tool = pg.tool
    monkeypatch.setattr(
        pg, "tool", lambda name: str(fake) if name == "pg_dump" else real_tool(name)
    )
    with pytest.raises(BackupError, match=r"pg_dump failed \(exit 1\): disk on fire"):
        services.backup_create(source=test_db_source, backup_id="failed")
    assert store.stored_backups() == []


def test_an_existing_backup_id_is_refused(test_db_source):
    services.backup_create(source=test_db_source, backup_id="once")
    with pytest.raises(CommandError, match="backup once exists already"):
        call_command("backup", "--database", test_db_source.name, "--id", "once")


def test_the_fingerprint_refuses_a_role_that_row_level_security_filters(test_db_source):
    owner = services.restore_target(test_db_source.name)
    with owner.connect() as conn, pytest.raises(BackupError, match="cannot read every row"):
        database_fingerprint(conn)


def test_a_write_during_the_backup_is_in_neither_the_dump_nor_the_manifest(
    test_db_source, scratch_names, monkeypatch
):
    """The manifest and the dump read one snapshot: a row committed between the
    fingerprint and pg_dump is in neither, so the restore still verifies."""
    owner = services.restore_target(test_db_source.name)
    real_fingerprint = services.database_fingerprint

    def fingerprint_then_write(conn):
        result = real_fingerprint(conn)
        with owner.connect(autocommit=True) as other:
            other.execute(
                "INSERT INTO django_content_type (app_label, model) VALUES ('late', 'writer')"
            )
        return result

    monkeypatch.setattr(services, "database_fingerprint", fingerprint_then_write)
    try:
        manifest = services.backup_create(source=test_db_source, backup_id="during")
    finally:
        with owner.connect(autocommit=True) as other:
            other.execute("DELETE FROM django_content_type WHERE app_label = 'late'")
    types = manifest["tables"]["django_content_type"]["*"]["rows"]
    assert types == ContentType.objects.count()  # this test's own view: no late row
    monkeypatch.undo()
    restore("during", scratch_names())  # verified: the dump has no late row either
