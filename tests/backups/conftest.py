"""Fixtures of the backup tests: a private key prefix in the backup bucket, and
databases of the tests' own (scratch restore targets, the drill's database),
dropped at the end. The machine's shared databases are never touched."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import connections

from backups import pg, services
from backups.database import Database
from tests.processes import ROOT, base_env


def session_database_name() -> str:
    """The session's test database (test_<instance>), never a shared one."""
    name = settings.DATABASES["default"]["TEST"]["NAME"]
    assert name.startswith("test_"), name
    return name


@pytest.fixture
def backup_prefix(settings, sqs_endpoint) -> str:
    """This test's backups live under a prefix of their own."""
    settings.BACKUP_PREFIX = f"tests/{uuid.uuid4().hex[:12]}/"
    return settings.BACKUP_PREFIX


@pytest.fixture
def test_db_source(db) -> Database:
    """The session's test database, read as the backup role (what a backup reads)."""
    assert connections["default"].settings_dict["NAME"] == session_database_name()
    return services.source_database().named(session_database_name())


@pytest.fixture
def scratch_names(django_db_setup):
    """Names for databases a test creates; whichever exist at the end are dropped."""
    names: list[str] = []

    def new_name(kind: str = "r") -> str:
        name = f"{session_database_name()}_{kind}_{uuid.uuid4().hex[:8]}"
        names.append(name)
        return name

    yield new_name
    for name in names:
        pg.database_drop(services.restore_target(name))


def migrate(database: Database) -> None:
    """`manage.py migrate` into `database` as its owner, in a process of its own."""
    env = base_env()
    env["DATABASE_URL"] = (
        f"postgres://{database.user}@{database.host or '127.0.0.1'}:"
        f"{database.port or 5432}/{database.name}"
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )


@pytest.fixture
def drill_database(scratch_names, django_db_blocker):
    """A migrated database of this test's own, which Django's connection uses
    (as the application role) for the test's duration; dropped at the end."""
    database = services.restore_target(scratch_names("drill"))
    pg.database_create(database)
    migrate(database)
    connection = connections["default"]
    saved = connection.settings_dict["NAME"]
    with django_db_blocker.unblock():
        connection.close()
        connection.settings_dict["NAME"] = database.name
        try:
            yield database
        finally:
            connection.close()
            connection.settings_dict["NAME"] = saved


@pytest.fixture
def app_role() -> str:
    return settings.DATABASE_APP_ROLE
