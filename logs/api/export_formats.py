"""The export formats: media type, file extension, and an encoder of rows.

Encoders take chunks (lists) of export rows (`logs.export.ExportRow`: text
formatted by PostgreSQL) and yield one text block per chunk, so a response
writes a few large blocks instead of a line per event. JSON and NDJSON rows
have the shape of the list endpoint (`event_json`), with nested JSON as jsonb text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring

from rest_framework.exceptions import ValidationError

from ..export import Encoder, ExportRow
from ..fields import EVENT_FIELDS, JSON_FIELDS

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
        raise ValidationError({"format": [f"Must be one of {', '.join(FORMATS)}."]})
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


def csv_cell(text: str | None) -> str | None:
    """One CSV cell: a formula (a cell starting with `= + - @`, tab or CR) gets a `'`.

    None stays None, which the csv module writes as an empty cell. Nested JSON
    cells hold the jsonb text, which starts with `{`.
    """
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def encode_csv(chunks: Iterable[list[ExportRow]]) -> Iterator[str]:
    """RFC 4180 CSV with a header row; the csv module quotes commas, quotes, newlines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVENT_FIELDS)
    for chunk in chunks:
        # csv_cell, inlined: this runs for every cell of every row.
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
