"""pg_dump and pg_restore as processes, and the database-level statements of a restore.

The tools are the PostgreSQL client tools on PATH (the same major version as
the server, or newer). They reach the database through libpq environment
variables (database.Database.libpq_env), never a password on the command line.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import psycopg
from psycopg import sql

from .database import Database
from .errors import BackupError

# The database the owner connects to while it creates or drops another.
MAINTENANCE_DATABASE = "postgres"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not on PATH: install the PostgreSQL client tools")
    return path


def tool_version(name: str) -> str:
    result = subprocess.run([tool(name), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip()


@contextmanager
def pg_dump(source: Database, *, snapshot: str, compression: int) -> Iterator[IO[bytes]]:
    """pg_dump's custom-format output as a stream, read in `snapshot`.

    Raises BackupError with pg_dump's own message when it exits non-zero,
    after the caller has read the stream (a truncated dump must not count).
    """
    args = [
        tool("pg_dump"),
        "--format=custom",
        f"--compress={compression}",
        f"--snapshot={snapshot}",
        "--no-password",
    ]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=errors, env=source.libpq_env()
        )
        assert process.stdout is not None
        try:
            yield process.stdout
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
        if process.wait() != 0:
            raise BackupError(f"pg_dump failed (exit {process.returncode}): {_tail(errors)}")


def pg_restore(target: Database, path: str) -> None:
    """Restore a custom-format dump into `target` in one transaction (all or nothing).

    --no-owner: objects belong to the restoring role (the owner). Privileges
    are kept: the dump's GRANTs and REVOKEs (the application role's, and the
    REVOKE FROM PUBLIC on the SECURITY DEFINER functions) are part of the
    schema's safety, so the roles they name must exist (scripts/bootstrap.py).
    """
    args = [
        tool("pg_restore"),
        "--no-owner",
        "--exit-on-error",
        "--single-transaction",
        "--no-password",
        f"--dbname={target.name}",
        path,
    ]
    with tempfile.TemporaryFile() as errors:
        result = subprocess.run(
            args, stdout=subprocess.DEVNULL, stderr=errors, env=target.libpq_env(), check=False
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed (exit {result.returncode}): {_tail(errors)}")


def _tail(stream: IO[bytes], limit: int = 2000) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace").strip()[-limit:]


def _maintenance(target: Database) -> psycopg.Connection:
    return target.named(MAINTENANCE_DATABASE).connect(autocommit=True)


def database_exists(target: Database) -> bool:
    with _maintenance(target) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.name])
        return found.fetchone() is not None


def database_has_tables(target: Database) -> bool:
    """True when the database holds any table, view or sequence outside the catalogs."""
    with target.connect(autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
            "LIMIT 1"
        )
        return found.fetchone() is not None


def database_create(target: Database) -> None:
    """Create the database, owned by the connecting role, from template1 (which
    scripts/bootstrap.py prepares: the full-text match marked LEAKPROOF)."""
    with _maintenance(target) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))


def database_drop(target: Database) -> None:
    try:
        with _maintenance(target) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(target.name)
                )
            )
    except psycopg.Error as exc:
        raise BackupError(
            f"cannot drop database {target.name!r}: {exc.diag.message_primary or exc}; "
            "stop the processes connected to it, or restore under another name"
        ) from None


def grant_app_role(target: Database, role: str) -> bool:
    """The application role's DML grants in the restored database (tenants.db)."""
    from tenants.db import app_role_grants

    with target.connect(autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
            return False
        for statement in app_role_grants(role):
            conn.execute(statement)
    return True
