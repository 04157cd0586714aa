"""The archive's columns: every stored column of the events table, as stored.

The list is read from PostgreSQL's catalog (every non-generated column of
`logs_event`, in table order), so a column added by a later migration
(`category`, `masked`, an encrypted envelope) is archived and restored without
a change here; `logs.fields.EVENT_FIELDS` must be a subset of it (checked).
Values are kept as stored: encrypted columns stay ciphertext, so destroying a
tenant's key (crypto-shredding) covers its archive too.

Types: `timestamptz` stays a UTC timestamp (microseconds), `boolean`,
integers and `bytea` keep their Arrow types, and every other type is archived
as its PostgreSQL text form (`uuid`, `inet`, `jsonb`, arrays...), which casts
back to the same value on restore. The idempotency key's content hash rides
along as `key_content_hash`, so a restored event answers retries as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import pyarrow as pa
from django.db import connection
from psycopg.types.string import TextLoader

from logs.fields import EVENT_FIELDS

SCHEMA_VERSION = 1
KEY_HASH = "key_content_hash"

_CATALOG_SQL = """
    SELECT attname, format_type(atttypid, atttypmod), atttypid::int
    FROM pg_attribute
    WHERE attrelid = 'public.logs_event'::regclass AND attnum > 0
      AND NOT attisdropped AND attgenerated = ''
    ORDER BY attnum
"""
_NATIVE: dict[str, pa.DataType] = {
    "timestamp with time zone": pa.timestamp("us", tz="UTC"),
    "boolean": pa.bool_(),
    "smallint": pa.int64(),
    "integer": pa.int64(),
    "bigint": pa.int64(),
    "bytea": pa.binary(),
}
# The array type a restore passes each Arrow type's values as.
_PARAM_ARRAY = {
    pa.timestamp("us", tz="UTC"): "timestamptz[]",
    pa.bool_(): "boolean[]",
    pa.int64(): "bigint[]",
    pa.binary(): "bytea[]",
    pa.string(): "text[]",
}


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str  # as format_type() spells it: "character varying(255)", "jsonb"
    type_oid: int

    @property
    def arrow_type(self) -> pa.DataType:
        return _NATIVE.get(self.pg_type, pa.string())

    @property
    def as_text(self) -> bool:
        return self.pg_type not in _NATIVE

    @property
    def param_array(self) -> str:
        return _PARAM_ARRAY[self.arrow_type]

    def describe(self) -> dict[str, str]:
        return {"name": self.name, "pg_type": self.pg_type, "arrow_type": str(self.arrow_type)}


def event_columns() -> list[Column]:
    """The stored columns of logs_event, in table order, read from the catalog."""
    with connection.cursor() as cursor:
        cursor.execute(_CATALOG_SQL)
        columns = [Column(*row) for row in cursor.fetchall()]
    missing = set(EVENT_FIELDS) - {c.name for c in columns}
    if missing:
        raise RuntimeError(f"logs_event lacks model columns: {sorted(missing)}")
    return columns


def archive_schema(columns: list[Column]) -> pa.Schema:
    """The Parquet schema: the event columns, then the key's content hash."""
    fields = [pa.field(c.name, c.arrow_type, nullable=True) for c in columns]
    fields.append(pa.field(KEY_HASH, pa.binary(), nullable=True))
    return pa.schema(fields, metadata={"auditlog.schema_version": str(SCHEMA_VERSION)})


def load_as_text(cursor: psycopg.Cursor, columns: list[Column]) -> None:
    """Have the cursor return the text form of the columns archived as text.

    The type's output function, not a `::text` cast: `inet`'s cast appends the
    netmask (`10.0.0.1/32`), its output does not, and either reads back equal.
    """
    for column in columns:
        if column.as_text:
            cursor.adapters.register_loader(column.type_oid, TextLoader)


def select_day_sql(columns: list[Column]) -> str:
    """One tenant's rows of one UTC day (parameters: tenant, start, end), in time order."""
    select = ", ".join(f'e."{c.name}"' for c in columns)
    return f"""
        SELECT {select}, k.content_hash AS {KEY_HASH}
        FROM logs_event AS e
        LEFT JOIN logs_event_key AS k ON k.tenant_id = e.tenant_id AND k.id = e.id
        WHERE e.tenant_id = %s AND e."timestamp" >= %s AND e."timestamp" < %s
        ORDER BY e."timestamp", e.id
    """
