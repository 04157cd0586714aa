"""What OpenSearch holds for an event: the mapping, the index template, the document.

Derived from logs/fields.py, so a new event column reaches the mapping and
the documents by itself (its Django type picks its OpenSearch type; an
unknown type is a `keyword`). The columns always encrypted at rest
(`encryption.policy.ALWAYS`) never leave PostgreSQL: they are neither mapped
nor sent (an index would only ever see their ciphertext). JSON columns are
kept out of the inverted index (`enabled: false`); their string and number
values feed `search_text`, as `search_vector` does
in PostgreSQL (message, resource type and id, metadata values), so `q`
means the same on both backends. The API answers from PostgreSQL rows in
every case (OpenSearch only finds and orders the ids), so a document needs
no field for display.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from encryption.policy import ALWAYS

from .. import fields

_TYPES: dict[str, dict] = {
    "UUIDField": {"type": "keyword"},
    "DateTimeField": {"type": "date_nanos"},
    "CharField": {"type": "keyword", "ignore_above": 1024},
    "TextField": {"type": "text", "analyzer": "audit_simple"},
    "GenericIPAddressField": {"type": "ip"},
    "JSONField": {"type": "object", "enabled": False},
    "ForeignKey": {"type": "keyword"},
    "BooleanField": {"type": "boolean"},
    "IntegerField": {"type": "long"},
    "BigIntegerField": {"type": "long"},
}
# Searched by `q`, as PostgreSQL's search_vector: these columns' text, and the
# string and number values of `metadata`.
SEARCH_TEXT_COLUMNS = ("message", "resource_type", "resource_id")
SEARCH_JSON_COLUMNS = ("metadata",)
# Keyset order: microseconds since the epoch (exact; dates in OpenSearch sort by
# milliseconds or nanoseconds, and events carry microseconds), then the id.
SORT_FIELD = "timestamp_us"
SHARDS = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def indexed_fields() -> tuple[str, ...]:
    """The event columns sent to OpenSearch: all but the encrypted ones."""
    return tuple(name for name in fields.EVENT_FIELDS if name not in ALWAYS)


def mappings() -> dict:
    """The index mapping: every indexed column, `search_text`, the sort key. Strict:
    a document with a field the mapping does not know is refused, never guessed."""
    properties = {
        name: dict(_TYPES.get(fields.kind(name), {"type": "keyword"})) for name in indexed_fields()
    }
    properties["search_text"] = {"type": "text", "analyzer": "audit_simple"}
    properties[SORT_FIELD] = {"type": "long"}
    return {"dynamic": "strict", "_routing": {"required": True}, "properties": properties}


def index_settings() -> dict:
    """Analysis like PostgreSQL's 'simple' configuration: lower-cased words, no stemming."""
    return {
        "number_of_shards": SHARDS,
        "analysis": {
            "analyzer": {
                "audit_simple": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}
            }
        },
    }


def index_template(pattern: str) -> dict:
    """The composable index template every events index (`<prefix>events-*`) gets."""
    return {
        "index_patterns": [pattern],
        "template": {"settings": index_settings(), "mappings": mappings()},
        "priority": 100,
        "_meta": {"source": "auditlog logs/search/documents.py"},
    }


def _json_values(value: Any) -> Iterator[str]:
    """String and number values of a JSON document, depth first (as jsonb_to_tsvector)."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _json_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_values(item)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (str, int, float)):
        yield str(value)


def search_text(row: dict) -> str:
    parts = [str(row[name]) for name in SEARCH_TEXT_COLUMNS if row.get(name)]
    for name in SEARCH_JSON_COLUMNS:
        parts.extend(_json_values(row.get(name)))
    return " ".join(parts)


def epoch_us(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def document(row: dict) -> dict:
    """A stored row (selector shape) as its OpenSearch document."""
    doc: dict[str, Any] = {}
    for name in indexed_fields():
        value = row.get(name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif value is not None and fields.kind(name) == "UUIDField":
            value = str(value)
        doc[name] = value
    doc["search_text"] = search_text(row)
    doc[SORT_FIELD] = epoch_us(row["timestamp"])
    return doc
