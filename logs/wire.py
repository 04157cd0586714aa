"""The wire format of an event: its JSON on the API, the stream and exports,
and the export text formats. One module, imported downward by logs/api (the
responses), logs/stream.py (the pushes) and logs/export.py (the rows).

- `event_json`: a stored row (selectors, services) as the API and the stream
  send it: ids as text, times ISO 8601 in UTC with `Z`.
- `EXPORT_COLUMNS`: the same values written by PostgreSQL as text, so an
  export row (`ExportRow`) needs no per-value conversion in Python.
- `FORMATS`: CSV, a JSON array, NDJSON; each encodes chunks of export rows
  into text blocks. JSON and NDJSON rows have the shape of `event_json`,
  with nested JSON as jsonb text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from django.db.models import Func, TextField
from django.db.models.functions import Cast

from auditlog_project.errors import Invalid

from . import fields
from .fields import EVENT_FIELDS, JSON_FIELDS


def _iso(value: Any) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# Columns whose Python value is not JSON already, and how each is written.
_TO_JSON: dict[str, Callable[[Any], str]] = {
    name: str if fields.kind(name) == "UUIDField" else _iso
    for name in EVENT_FIELDS
    if fields.kind(name) in ("UUIDField", "DateTimeField")
}


def event_json(row: dict) -> dict:
    """A stored event (selector row) as the API and the stream send it."""
    out = dict(row)
    for name, write in _TO_JSON.items():
        out[name] = write(row[name])
    return out


# A row of an export: the event's fields in EVENT_FIELDS order, each text or None.
ExportRow = tuple[str | None, ...]
# Encoders turn chunks of export rows into text blocks (FORMATS below).
Encoder = Callable[[Iterable[list[ExportRow]]], Iterator[str]]


class IsoUtc(Func):
    """A timestamptz as `event_json` writes it: `datetime.isoformat()` in UTC with `Z`.

    That is `YYYY-MM-DDTHH:MM:SS`, then `.ffffff` only when the microseconds are
    not zero, then `Z`, whatever the session time zone. (`.000000` can only be
    the fraction: the date and time parts hold no dot.)
    """

    template = (
        "(replace(to_char(%(expressions)s AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || 'Z')"
    )
    output_field = TextField()


class Host(Func):
    """An inet as the API writes it: the address alone (no `/32` or `/128`)."""

    function = "host"
    output_field = TextField()


def _text(name: str) -> Cast:
    return Cast(name, TextField())


# How PostgreSQL turns each kind of column into the text the API writes;
# other columns are text already. JSON columns come as their jsonb text
# (`{"a": 1}`), written as is.
_AS_TEXT: dict[str, Callable[[str], Func]] = {
    "UUIDField": _text,
    "DateTimeField": IsoUtc,
    "GenericIPAddressField": Host,
    "JSONField": _text,
}
# The export's select list, one expression (or column name) per EVENT_FIELDS entry.
EXPORT_COLUMNS: list[str | Func] = [
    _AS_TEXT[fields.kind(name)](name) if fields.kind(name) in _AS_TEXT else name
    for name in EVENT_FIELDS
]


DEFAULT_FORMAT = "csv"
# A CSV cell starting with one of these is a formula in spreadsheet software
# (OWASP "CSV injection"); a leading tab or carriage return can hide one.
FORMULA_STARTS = frozenset("=+-@\t\r")


@dataclass(frozen=True)
class ExportFormat:
    name: str
    content_type: str
    extension: str
    encode: Encoder


def export_format(name: str | None) -> ExportFormat:
    """The format named by the `format` parameter (default CSV); 400 names `format`."""
    chosen = FORMATS.get(name or DEFAULT_FORMAT)
    if chosen is None:
        raise Invalid({"format": [f"Must be one of {', '.join(FORMATS)}."]})
    return chosen


# JSON columns (`before`, `after`, `metadata`) arrive as jsonb text, which is JSON already:
# written as it is, they cost no decoding and re-encoding (the most expensive
# step per row otherwise). PostgreSQL writes it with a space after `:` and `,`
# (`{"a": 1, "b": [1, 2]}`): valid JSON, the same values as the list endpoint.
RAW_JSON = tuple(name in JSON_FIELDS for name in EVENT_FIELDS)
# One JSON object per row, compact, keys in EVENT_FIELDS order (as `event_json`).
OBJECT_TEMPLATE = "{" + ",".join(f'"{name}":%s' for name in EVENT_FIELDS) + "}"


def json_object(row: ExportRow) -> str:
    """An export row as a JSON object of the list endpoint's shape.

    `encode_basestring` is the string encoder of `json.dumps(ensure_ascii=False)`
    (C), so strings have the same bytes as there.
    """
    values = [
        "null" if value is None else value if raw else encode_basestring(value)
        for value, raw in zip(row, RAW_JSON, strict=True)
    ]
    return OBJECT_TEMPLATE % tuple(values)


def encode_ndjson(chunks: Iterable[list[ExportRow]]) -> Iterator[str]:
    for chunk in chunks:
        lines = [json_object(row) for row in chunk]
        lines.append("")
        yield "\n".join(lines)


def encode_json(chunks: Iterable[list[ExportRow]]) -> Iterator[str]:
    """One JSON array, valid when empty too; an element per line."""
    opening = "[\n"
    for chunk in chunks:
        yield opening + ",\n".join([json_object(row) for row in chunk])
        opening = ",\n"
    yield "[\n]\n" if opening == "[\n" else "\n]\n"


def encode_csv(chunks: Iterable[list[ExportRow]]) -> Iterator[str]:
    """RFC 4180 CSV with a header row; the csv module quotes commas, quotes, newlines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVENT_FIELDS)
    for chunk in chunks:
        # A formula cell (starting with `= + - @`, tab or CR) gets a `'`; None stays
        # None (an empty cell). Inline: this runs for every cell of every row.
        writer.writerows(
            [
                ["'" + cell if cell and cell[0] in FORMULA_STARTS else cell for cell in row]
                for row in chunk
            ]
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows: the header row alone
        yield buffer.getvalue()


FORMATS = {
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", "csv", encode_csv),
    "json": ExportFormat("json", "application/json", "json", encode_json),
    "ndjson": ExportFormat("ndjson", "application/x-ndjson", "ndjson", encode_ndjson),
}
