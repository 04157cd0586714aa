"""OpenSearch offline: the mapping, documents, bulk and delete bodies and the list
query are generated exactly as intended (no server needed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from logs import fields
from logs.filtersets import EventFilterSet
from logs.pagination import Cursor, PageRequest
from logs.search import client as cluster
from logs.search import documents, indexer
from logs.search.query import SUPPORTED, build_search, simple_query

T = datetime(2026, 12, 1, 10, 30, 15, 123456, tzinfo=UTC)
T_US = 1_796_121_015_123_456


def row(**overrides) -> dict:
    base = dict.fromkeys(fields.EVENT_FIELDS)
    base.update(
        id=uuid.UUID("00000000-0000-4000-8000-000000000001"),
        tenant_id="tenant-a",
        timestamp=T,
        received_at=T,
        user_id="ursula",
        action="LOGIN",
        resource_type="session",
        resource_id="s-1",
        severity="INFO",
        ip_address="10.0.0.1",
        message="Login failed",
        metadata={"reason": "bad password", "tries": 3, "nested": {"ok": True, "who": ["x"]}},
        before={"secret": "no"},
    )
    base.update(overrides)
    return base


def test_every_event_field_is_mapped_strictly_with_its_type():
    mapping = documents.mappings()
    assert mapping["dynamic"] == "strict"
    assert mapping["_routing"] == {"required": True}
    props = mapping["properties"]
    assert set(props) == {*documents.indexed_fields(), "search_text", "timestamp_us"}
    assert props["id"] == {"type": "keyword"}
    assert props["tenant_id"] == {"type": "keyword"}
    assert props["timestamp"] == {"type": "date_nanos"}
    assert props["timestamp_us"] == {"type": "long"}
    assert props["ip_address"] == {"type": "ip"}
    assert props["message"] == {"type": "text", "analyzer": "audit_simple"}
    assert props["user_id"] == {"type": "keyword", "ignore_above": 1024}
    assert props["metadata"] == {"type": "object", "enabled": False}
    assert props["search_text"] == {"type": "text", "analyzer": "audit_simple"}


def test_encrypted_fields_are_neither_mapped_nor_sent():
    assert "before" not in documents.mappings()["properties"]
    doc = documents.document(row())
    assert "before" not in doc and "after" not in doc
    assert "no" not in doc["search_text"]


def test_a_document_has_every_indexed_field_search_text_and_exact_microseconds():
    doc = documents.document(row())
    assert set(doc) == {*documents.indexed_fields(), "search_text", "timestamp_us"}
    assert doc["id"] == "00000000-0000-4000-8000-000000000001"
    assert doc["timestamp"] == "2026-12-01T10:30:15.123456+00:00"
    assert doc["timestamp_us"] == T_US == documents.epoch_us(T)
    # as search_vector: message, resource type and id, metadata strings and numbers
    assert doc["search_text"] == "Login failed session s-1 bad password 3 x"


def test_the_template_covers_versioned_indexes_with_the_simple_analysis(settings):
    settings.OPENSEARCH_INDEX_PREFIX = "inst-"
    template = documents.index_template(cluster.index_pattern())
    assert template["index_patterns"] == ["inst-events-v*"]
    assert template["template"]["mappings"] == documents.mappings()
    analyzer = template["template"]["settings"]["analysis"]["analyzer"]["audit_simple"]
    assert analyzer == {"type": "custom", "tokenizer": "standard", "filter": ["lowercase"]}
    assert cluster.index_name() == "inst-events-v1"
    assert cluster.write_alias() == "inst-events"


def test_a_tenant_alias_filters_and_routes_by_its_tenant(settings):
    settings.OPENSEARCH_INDEX_PREFIX = "inst-"
    assert cluster.tenant_alias_body("tenant-a", "inst-events-v1") == {
        "actions": [
            {
                "add": {
                    "index": "inst-events-v1",
                    "alias": "inst-events-tenant-tenant-a",
                    "filter": {"term": {"tenant_id": "tenant-a"}},
                    "routing": "tenant-a",
                }
            }
        ]
    }


def test_bulk_lines_key_documents_by_tenant_and_id_and_route_them():
    body = indexer.bulk_body("tenant-a", [row()], "inst-events")
    assert body[0] == {
        "index": {
            "_index": "inst-events",
            "_id": "tenant-a:00000000-0000-4000-8000-000000000001",
            "routing": "tenant-a",
        }
    }
    assert body[1] == documents.document(row())
    assert len(body) == 2


def test_the_retention_delete_is_the_tenant_and_before_the_cut_off():
    assert indexer.delete_query("tenant-a", T) == {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"tenant_id": "tenant-a"}},
                    {"range": {"timestamp_us": {"lt": T_US}}},
                ]
            }
        }
    }


def cleaned(params: dict) -> dict:
    filterset = EventFilterSet(data=params)
    assert filterset.is_valid(), filterset.errors
    return filterset.form.cleaned_data


def test_the_list_query_with_every_filter():
    params = {
        "user_id": "ursula",
        "session_id": "s",
        "action": "login,logout",
        "resource_type": "session",
        "resource_id": "s-1",
        "severity": "error,critical",
        "start_time": "2026-12-01T10:30:15.123456Z",
        "end_time": "2026-12-01T12:30:15.123456+02:00",
        "request_id": "r-1",
        "ip_address": "10.0.0.1",
        "q": '"bad password" OR denied -test',
    }
    body = build_search(
        tenant_id="tenant-a",
        filters=cleaned(params),
        page=PageRequest.from_params({"page_size": "20"}),
        own_user=None,
    )
    assert body == {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"tenant_id": "tenant-a"}},
                    {"term": {"user_id": "ursula"}},
                    {"term": {"session_id": "s"}},
                    {"term": {"resource_type": "session"}},
                    {"term": {"resource_id": "s-1"}},
                    {"term": {"request_id": "r-1"}},
                    {"terms": {"action": ["LOGIN", "LOGOUT"]}},
                    {"terms": {"severity": ["ERROR", "CRITICAL"]}},
                    {"term": {"ip_address": "10.0.0.1"}},
                    {"range": {"timestamp_us": {"gte": T_US, "lt": T_US}}},
                ],
                "must": [
                    {
                        "simple_query_string": {
                            "query": '"bad password" | denied -test',
                            "fields": ["search_text"],
                            "default_operator": "and",
                        }
                    }
                ],
            }
        },
        "sort": [{"timestamp_us": "desc"}, {"id": "desc"}],
        "size": 21,
        "_source": False,
        "track_total_hits": False,
    }


def test_the_user_role_only_ever_queries_its_own_events():
    body = build_search(tenant_id="tenant-a", filters={}, page=PageRequest(), own_user="ursula")
    assert body["query"]["bool"]["filter"] == [
        {"term": {"tenant_id": "tenant-a"}},
        {"term": {"user_id": "ursula"}},
    ]


@pytest.mark.parametrize(
    ("ordering", "backwards", "order"),
    [
        ("-timestamp", False, "desc"),
        ("-timestamp", True, "asc"),
        ("timestamp", False, "asc"),
        ("timestamp", True, "desc"),
    ],
)
def test_cursors_become_search_after_in_the_scan_order(ordering, backwards, order):
    event_id = uuid.UUID("00000000-0000-4000-8000-0000000000ff")
    cursor = Cursor(T, event_id, backwards=backwards)
    page = PageRequest.from_params({"ordering": ordering, "cursor": cursor.encode()})
    body = build_search(tenant_id="t", filters={}, page=page, own_user=None)
    assert body["sort"] == [{"timestamp_us": order}, {"id": order}]
    assert body["search_after"] == [T_US, str(event_id)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("login failed", "login failed"),
        ('"disk full" OR error', '"disk full" | error'),
        ("-debug admin", "-debug admin"),
        ("foo-bar", '"foo bar"'),
        ("a|b (c)", '"a b" c'),
        ('"unterminated phrase', '"unterminated phrase"'),
        ("*", ""),
    ],
)
def test_web_search_syntax_becomes_simple_query_string(q, expected):
    assert simple_query(q) == expected


def test_every_list_filter_is_translated_or_answered_by_postgresql():
    # A filter added to EventFilterSet without a translation here is answered by
    # PostgreSQL (backend.py); this test lists which ones OpenSearch takes.
    assert set(EventFilterSet.base_filters) <= SUPPORTED | {"category"}
