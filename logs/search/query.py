"""The list filters of GET /api/v1/logs as an OpenSearch query, with keyset paging.

Built from the same validated filters as the PostgreSQL path (EventFilterSet's
cleaned data), so the two backends cannot disagree on what a parameter means.
The order is (timestamp, id), read as `timestamp_us` (exact microseconds) and
`id`; `search_after` takes the list cursor's position as it is, so a cursor
from one backend pages on in the other. The tenant filter is always the
first clause, whatever else the query holds, and the search names the
tenant's filtered alias with its routing (logs/search/client.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..pagination import PageRequest, scans_descending
from . import documents

TERM_FILTERS = ("user_id", "session_id", "resource_type", "resource_id", "request_id")
TERMS_FILTERS = ("action", "severity")
# Every filter this module translates; a request using another one (a filter
# added later) is answered by PostgreSQL until it is taught here.
SUPPORTED = frozenset({*TERM_FILTERS, *TERMS_FILTERS, "ip_address", "start_time", "end_time", "q"})

_TOKEN = re.compile(r'-?"[^"]*"?|\S+')
_OPERATORS = re.compile(r'[-+|()~*"\\]')
_OR_WORD = "OR"


def _words(text: str) -> str:
    """Text with simple_query_string's operator characters turned into spaces."""
    return " ".join(_OPERATORS.sub(" ", text).split())


def simple_query(q: str) -> str:
    """PostgreSQL's web-search syntax (`websearch_to_tsquery`) in simple_query_string's:
    words are ANDed, "phrases" stay phrases, -word excludes, OR becomes |."""
    out = []
    for token in _TOKEN.findall(q):
        negate = "-" if token.startswith("-") and len(token) > 1 else ""
        body = token[1:] if negate else token
        if token == _OR_WORD:
            out.append("|")
        elif body.startswith('"'):
            if phrase := _words(body):
                out.append(f'{negate}"{phrase}"')
        elif words := _words(body):
            out.append(negate + words if " " not in words else f'{negate}"{words}"')
    return " ".join(out)


def _filters(tenant_id: str, filters: Mapping[str, Any], own_user: str | None) -> list[dict]:
    clauses: list[dict] = [{"term": {"tenant_id": tenant_id}}]
    for name in TERM_FILTERS:
        if filters.get(name) not in (None, ""):
            clauses.append({"term": {name: filters[name]}})
    for name in TERMS_FILTERS:
        if filters.get(name):
            clauses.append({"terms": {name: list(filters[name])}})
    if filters.get("ip_address"):
        clauses.append({"term": {"ip_address": filters["ip_address"]}})
    bounds = {}
    if filters.get("start_time") is not None:
        bounds["gte"] = documents.epoch_us(filters["start_time"])
    if filters.get("end_time") is not None:
        bounds["lt"] = documents.epoch_us(filters["end_time"])
    if bounds:
        clauses.append({"range": {documents.SORT_FIELD: bounds}})
    if own_user is not None:  # the `user` role: its own events only
        clauses.append({"term": {"user_id": own_user}})
    return clauses


def build_search(
    *, tenant_id: str, filters: Mapping[str, Any], page: PageRequest, own_user: str | None
) -> dict:
    """The search body: filters, the `q` match, the keyset order, size + 1 hits."""
    boolean: dict[str, list] = {"filter": _filters(tenant_id, filters, own_user)}
    if filters.get("q"):
        boolean["must"] = [
            {
                "simple_query_string": {
                    "query": simple_query(filters["q"]),
                    "fields": ["search_text"],
                    "default_operator": "and",
                }
            }
        ]
    order = "desc" if scans_descending(page) else "asc"
    body: dict[str, Any] = {
        "query": {"bool": boolean},
        "sort": [{documents.SORT_FIELD: order}, {"id": order}],
        "size": page.size + 1,
        "_source": False,
        "track_total_hits": False,
    }
    if page.cursor is not None:
        body["search_after"] = [documents.epoch_us(page.cursor.timestamp), str(page.cursor.id)]
    return body
