"""The export formats: media type, file extension, and an encoder of rows.

Encoders take chunks (lists) of selector rows and yield one text block per
chunk, so a response writes a few large blocks instead of a line per event.
JSON and NDJSON rows have the shape of the list endpoint (`event_json`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from rest_framework.exceptions import ValidationError

from ..export import Encoder
from ..selectors import EVENT_FIELDS
from .serializers import event_json

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


def _dumps(row: dict) -> str:
    return json.dumps(event_json(row), ensure_ascii=False, separators=(",", ":"))


def encode_ndjson(chunks: Iterable[list[dict]]) -> Iterator[str]:
    for chunk in chunks:
        yield "".join([_dumps(row) + "\n" for row in chunk])


def encode_json(chunks: Iterable[list[dict]]) -> Iterator[str]:
    """One JSON array, valid when empty too; an element per line."""
    opening = "[\n"
    for chunk in chunks:
        yield opening + ",\n".join([_dumps(row) for row in chunk])
        opening = ",\n"
    yield "[\n]\n" if opening == "[\n" else "\n]\n"


def csv_cell(value: object) -> str:
    """One CSV cell: nested JSON compact, None empty, UTC times with Z, formulas neutralised.

    Called for every cell of every row: the common cases (a string, None) come first.
    """
    if value.__class__ is str:
        text = value
    elif value is None:
        return ""
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(value, datetime):
        text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    else:
        text = str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def encode_csv(chunks: Iterable[list[dict]]) -> Iterator[str]:
    """RFC 4180 CSV with a header row; the csv module quotes commas, quotes, newlines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EVENT_FIELDS)
    for chunk in chunks:
        writer.writerows([csv_cell(row[name]) for name in EVENT_FIELDS] for row in chunk)
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
