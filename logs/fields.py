"""The columns of an audit event, derived once from the model.

`logs.models.Event` declares an event's columns: name, type, length,
nullability and order. This module is where everything that lists them gets
its list, so a new column reaches the insert statement, the stored-row shape,
the list/get selection, the API shapes and the export by itself. Adding a
field touches the model, its migration and its validation rule
(`logs.validation.RULES`), nothing else.
"""

from __future__ import annotations

from django.db import models

from .models import Event

_COLUMNS: tuple[models.Field, ...] = tuple(Event._meta.concrete_fields)

# Every column in declaration order: the shape of a stored row (selectors'
# `.values()`, `services._row`), the keys of the API's JSON and the export's columns.
EVENT_FIELDS: tuple[str, ...] = tuple(field.attname for field in _COLUMNS)
# One value for every event of a write, an INSERT parameter: the tenant (from
# the request's access) and the columns with a database default (`received_at`).
STATEMENT_SET: frozenset[str] = frozenset(
    field.attname for field in _COLUMNS if field.is_relation or field.has_db_default()
)
# Set by the server, never by the client: those, and the columns the model marks
# `editable=False`, which the server sets per event (`masked`).
SERVER_SET: frozenset[str] = STATEMENT_SET | frozenset(
    field.attname for field in _COLUMNS if not field.editable
)
# What a client sends, in column order (each has a rule in logs.validation.RULES).
INPUT_FIELDS: tuple[str, ...] = tuple(name for name in EVENT_FIELDS if name not in SERVER_SET)
# What an INSERT takes from its JSON batch, per event, in column order.
BATCH_FIELDS: tuple[str, ...] = tuple(name for name in EVENT_FIELDS if name not in STATEMENT_SET)

_SQL_TYPES = {
    "UUIDField": "uuid",
    "DateTimeField": "timestamptz",
    "CharField": "text",
    "TextField": "text",
    "GenericIPAddressField": "inet",
    "JSONField": "jsonb",
    "ForeignKey": "text",
}


def field(name: str) -> models.Field:
    """The model field of a column (by its column name: `tenant_id`, not `tenant`)."""
    return next(column for column in _COLUMNS if column.attname == name)


def kind(name: str) -> str:
    """The field's Django type name (`UUIDField`, `JSONField`, ...)."""
    return field(name).get_internal_type()


def sql_type(name: str) -> str:
    """The PostgreSQL type a JSON batch value of the column is read as."""
    return _SQL_TYPES[kind(name)]


JSON_FIELDS: tuple[str, ...] = tuple(name for name in EVENT_FIELDS if kind(name) == "JSONField")
