"""Make sure PostgreSQL has the project's database and roles, and Redis answers.

Idempotent; run by `make run` and `make test` before anything else.
  - the owner role (owns the tables, runs migrations, may create test databases)
  - the application role (runtime connections; owns nothing, so row-level
    security applies to it; never a superuser, never BYPASSRLS)
  - the backup role (reads everything for `manage.py backup`: BYPASSRLS, because
    the events tables FORCE row-level security even on their owner, and
    pg_read_all_data; writes nothing, owns nothing)
  - the database, owned by the owner role
Connects as a PostgreSQL administrator from PG_ADMIN_URL (default: the local
`postgres` superuser over 127.0.0.1, trust auth as on the project's machines).
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit

import psycopg
import redis
from psycopg import sql

ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# The database is this copy's AUDITLOG_INSTANCE (as in scripts/env.sh and
# settings/local.py), so a second copy gets a database of its own.
INSTANCE = os.environ.get("AUDITLOG_INSTANCE") or "auditlog"
OWNER_URL = os.environ.get(
    "DATABASE_OWNER_URL", f"postgres://auditlog_owner@127.0.0.1:5432/{INSTANCE}"
)
APP_URL = os.environ.get("DATABASE_URL_APP", f"postgres://auditlog_app@127.0.0.1:5432/{INSTANCE}")
BACKUP_URL = os.environ.get(
    "BACKUP_DATABASE_URL", f"postgres://auditlog_backup@127.0.0.1:5432/{INSTANCE}"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _role_and_password(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    return parts.username or "", parts.password


def ensure_role(
    conn, name: str, password: str | None, *, createdb: bool, bypassrls: bool = False
) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name]).fetchone()
    verb = "ALTER" if exists else "CREATE"
    options = (
        "LOGIN NOSUPERUSER NOCREATEROLE "
        + ("CREATEDB " if createdb else "NOCREATEDB ")
        + ("BYPASSRLS" if bypassrls else "NOBYPASSRLS")
    )
    statement = sql.SQL(verb + " ROLE {} " + options).format(sql.Identifier(name))
    conn.execute(statement)
    if password:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(password))
        )
    print(f"postgresql: role {name} {'ok' if exists else 'created'}")


def ensure_backup_role(conn, name: str, password: str | None) -> None:
    """The role `manage.py backup` dumps as: reads every row of every table, writes nothing."""
    ensure_role(conn, name, password, createdb=False, bypassrls=True)
    conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(name)))


def ensure_database(conn, name: str, owner: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not exists:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    print(f"postgresql: database {name} {'ok' if exists else 'created'}")


def mark_full_text_leakproof(database: str) -> None:
    """Let row-level security use the full-text GIN index (needs a superuser).

    Under RLS, PostgreSQL evaluates a user's condition before the policy only
    when its function is LEAKPROOF, and only then uses it as an index condition.
    `tsvector @@ tsquery` (ts_match_vq) is not marked so by default, so `q`
    searches would filter rows instead of using the GIN index. Marking it is a
    superuser act per database: the app database, and template1 so that test
    databases inherit it. Without a superuser, search stays correct, only slower.
    """
    for name in (database, "template1"):
        url = urlsplit(ADMIN_URL)._replace(path=f"/{name}").geturl()
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                conn.execute("ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF")
            print(f"postgresql: full-text match leakproof in {name}")
        except psycopg.Error as exc:
            print(f"postgresql: cannot mark full-text match leakproof in {name}: {exc}")


def main() -> int:
    owner, owner_password = _role_and_password(OWNER_URL)
    app, app_password = _role_and_password(APP_URL)
    database = urlsplit(OWNER_URL).path.lstrip("/")
    try:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            ensure_role(conn, owner, owner_password, createdb=True)
            ensure_role(conn, app, app_password, createdb=False)
            ensure_backup_role(conn, *_role_and_password(BACKUP_URL))
            ensure_database(conn, database, owner)
    except psycopg.Error as exc:
        print(f"postgresql: cannot prepare the database via PG_ADMIN_URL: {exc}", file=sys.stderr)
        return 1
    mark_full_text_leakproof(database)
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        print(f"redis: no answer at REDIS_URL={REDIS_URL}: {exc}", file=sys.stderr)
        return 1
    print("redis: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
