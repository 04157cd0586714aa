"""What a database holds, in numbers a restore is checked against.

For every table of the public schema (a partitioned table counts once, with
all its partitions): the row count and a SHA-256 over the rows in primary-key
order, per tenant for tables with a `tenant_id` column (`*` for the others);
plus the applied migrations. Computed by SQL in the caller's transaction, so
a backup takes it in the very snapshot it dumps.

The hash is SHA-256 over the concatenated SHA-256 of each row's text form.
Text forms depend on session settings, which are fixed here (UTC, ISO dates,
shortest exact floats), so the same rows hash the same on any server.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .errors import BackupError

# Pinned for this transaction (set_config(..., true)): the row text must not
# depend on the server's or the role's defaults.
_TEXT_SETTINGS = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    # A role subject to row-level security would see some rows only: make that
    # an error instead of a fingerprint of part of the data.
    "row_security": "off",
}

_TABLES = """
SELECT c.relname,
       EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
               AND a.attname = 'tenant_id' AND NOT a.attisdropped),
       ARRAY(SELECT a.attname::text
             FROM pg_index i
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
             WHERE i.indrelid = c.oid AND i.indisprimary ORDER BY k.ord)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""

_TABLE_HASH = """
SELECT {group}, count(*),
       encode(sha256(string_agg(sha256(convert_to(t::text, 'UTF8')), ''::bytea
                                ORDER BY {order})), 'hex')
FROM {table} AS t GROUP BY 1 ORDER BY 1
"""


def database_fingerprint(conn: psycopg.Connection) -> dict[str, Any]:
    """Row counts and content hashes of every table, and the migration state."""
    with conn.cursor() as cursor:
        for name, value in _TEXT_SETTINGS.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        tables = cursor.execute(_TABLES).fetchall()
        try:
            fingerprints = {
                name: _table_fingerprint(cursor, name, tenant, list(pk))
                for name, tenant, pk in tables
            }
        except psycopg.errors.InsufficientPrivilege as exc:
            raise BackupError(
                f"the role {conn.info.user!r} cannot read every row ({exc.diag.message_primary}); "
                "backups read as the backup role (BACKUP_DATABASE_URL, BYPASSRLS)"
            ) from None
        migrations = _migrations(cursor) if "django_migrations" in fingerprints else {}
    return {"tables": fingerprints, "migrations": migrations}


def _table_fingerprint(cursor, table: str, has_tenant: bool, pk: list[str]) -> dict:
    alias = sql.Identifier("t")
    order = (
        sql.SQL(", ").join(sql.Identifier("t", column) for column in pk)
        if pk
        else sql.SQL("{}::text").format(alias)
    )
    group = sql.SQL("t.tenant_id") if has_tenant else sql.Literal("*")
    statement = sql.SQL(_TABLE_HASH).format(group=group, order=order, table=sql.Identifier(table))
    rows = cursor.execute(statement).fetchall()
    return {str(key): {"rows": count, "sha256": digest} for key, count, digest in rows}


def _migrations(cursor) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name"):
        applied.setdefault(app, []).append(name)
    return applied


def fingerprint_differences(expected: dict, actual: dict) -> list[str]:
    """Each table and tenant whose rows differ, in words (empty: identical)."""
    problems = []
    expected_tables, actual_tables = expected["tables"], actual["tables"]
    for table in sorted(set(expected_tables) | set(actual_tables)):
        want, got = expected_tables.get(table), actual_tables.get(table)
        if want is None or got is None:
            problems.append(f"table {table}: {'missing' if got is None else 'not in the backup'}")
            continue
        for key in sorted(set(want) | set(got)):
            if want.get(key) != got.get(key):
                problems.append(
                    f"table {table} [{key}]: expected {want.get(key)}, got {got.get(key)}"
                )
    if expected.get("migrations") != actual.get("migrations"):
        problems.append("applied migrations differ")
    return problems


def events_per_tenant(fingerprint: dict) -> dict[str, int]:
    """Events per tenant, as recorded in a fingerprint."""
    return {
        tenant: entry["rows"]
        for tenant, entry in fingerprint["tables"].get("logs_event", {}).items()
    }
