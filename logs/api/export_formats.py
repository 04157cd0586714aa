"""The export formats: media type, file extension, and an encoder of rows.

Encoders take chunks (lists) of export rows (`logs.export.ExportRow`: text
formatted by PostgreSQL) and yield one text block per chunk, so a response
writes a few large blocks instead of a line per event. JSON and NDJSON rows
have the shape and the bytes of the list endpoint (`event_json`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rest_framework.exceptions import ValidationError

from ..export import Encoder, ExportRow
from ..selectors import EVENT_FIELDS

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


# Nested JSON as the list endpoint writes it: compact, non-ASCII kept.
_decode = json.JSONDecoder().decode
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
JSON_COLUMNS = tuple(EVENT_FIELDS.index(name) for name in ("before", "after", "metadata"))


def compact_json(text: str) -> str:
    """jsonb text (`{"a": 1}`) as compact JSON (`{"a":1}`)."""
    return _encode(_decode(text))


def _event(row: ExportRow) -> dict:
    """An export row as `event_json` shapes a selector row (the list endpoint's shape)."""
    event = dict(zip(EVENT_FIELDS, row, strict=True))
    for name in ("before", "after", "metadata"):
        if (text := event[name]) is not None:
            event[name] = _decode(text)
    return event


def _lines(chunk: list[ExportRow]) -> list[str]:
    return [_encode(_event(row)) for row in chunk]


def encode_ndjson(chunks: Iterable[list[ExportRow]]) -> Iterator[str]:
    for chunk in chunks:
        lines = _lines(chunk)
        lines.append("")
        yield "\n".join(lines)


def encode_json(chunks: Iterable[list[ExportRow]]) -> Iterator[str]:
    """One JSON array, valid when empty too; an element per line."""
    opening = "[\n"
    for chunk in chunks:
        yield opening + ",\n".join(_lines(chunk))
        opening = ",\n"
    yield "[\n]\n" if opening == "[\n" else "\n]\n"


def csv_cell(text: str | None) -> str | None:
    """One CSV cell: a formula (a cell starting with `= + - @`, tab or CR) gets a `'`.

    None stays None, which the csv module writes as an empty cell.
    """
    return "'" + text if text and text[0] in FORMULA_STARTS else text


def _csv_rows(chunk: list[ExportRow]) -> Iterator[list[str | None]]:
    """CSV cells of each row: nested JSON compact, then every cell neutralised.

    Runs for every cell of every row, so the test of `csv_cell` is inlined.
    """
    for row in chunk:
        cells = list(row)
        for index in JSON_COLUMNS:
            if (text := cells[index]) is not None:
                cells[index] = compact_json(text)
        yield ["'" + cell if cell and cell[0] in FORMULA_STARTS else cell for cell in cells]


def encode_csv(chunks: Iterable[list[ExportRow]]) -> Iterator[str]:
    """RFC 4180 CSV with a header row; the csv module quotes commas, quotes, newlines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVENT_FIELDS)
    for chunk in chunks:
        writer.writerows(_csv_rows(chunk))
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
