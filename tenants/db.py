"""Database roles: what the application role may do.

The application connects as a role that owns nothing (DATABASE_APP_ROLE), so
PostgreSQL row-level security applies to it. After every `migrate` (run as the
owner) this grants it plain DML on the tables, nothing more: no TRUNCATE, no
DDL, no ownership.
"""

from __future__ import annotations

from django.conf import settings
from django.db import connections
from psycopg import sql

# Row-level security: a row is visible and writable only in a transaction whose
# `app.tenant_id` (tenants.scoping.activate) names its tenant.
TENANT_POLICY = (
    "USING (tenant_id = current_setting('app.tenant_id', true)) "
    "WITH CHECK (tenant_id = current_setting('app.tenant_id', true))"
)


def tenant_isolation(table: str, *, force: bool = True) -> list[str]:
    """The statements that confine `table` to the transaction's tenant (the
    `tenant_isolation` policy). `force` binds the table's owner too; migrations
    call this so every tenant table gets the same policy."""
    enable = "ENABLE ROW LEVEL SECURITY" + (", FORCE ROW LEVEL SECURITY" if force else "")
    return [
        f"ALTER TABLE {table} {enable}",
        f"CREATE POLICY tenant_isolation ON {table} {TENANT_POLICY}",
    ]


def tenant_isolation_reverse(table: str) -> str:
    return f"DROP POLICY IF EXISTS tenant_isolation ON {table}"


def grant_app_role(using: str = "default") -> bool:
    """Grant the application role DML on every table; False when not applicable."""
    return _grant(connections[using], app_role_grants(settings.DATABASE_APP_ROLE))


def grant_execute(connection, signature: str) -> bool:
    """Let the application role run the owner's function `signature` (e.g.
    "auditlog_drop_partition(date, integer)"), which migrations REVOKE from
    PUBLIC; False when not applicable."""
    grant = sql.SQL(f"GRANT EXECUTE ON FUNCTION {signature} TO {{}}")
    return _grant(connection, [grant.format(sql.Identifier(settings.DATABASE_APP_ROLE))])


def _grant(connection, statements: list[sql.Composed]) -> bool:
    """Run the grants, unless connected as the application role itself (nothing to
    grant) or the role does not exist (a single-role setup)."""
    role = settings.DATABASE_APP_ROLE
    if connection.settings_dict["USER"] == role:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            return False
        for statement in statements:
            cursor.execute(statement.as_string(cursor.connection))
    return True


def app_role_grants(role: str) -> list[sql.Composed]:
    """The statements that give `role` DML on every table and sequence, now and later.

    Run after every `migrate` and after a restore (backups.pg).
    """
    ident = sql.Identifier(role)
    return [
        sql.SQL(statement).format(ident)
        for statement in (
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}",
            "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {}",
        )
    ]


def _on_post_migrate(sender, using: str = "default", **kwargs) -> None:
    grant_app_role(using)
