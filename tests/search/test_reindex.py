"""manage.py search_reindex: every event of the tenant in keyset chunks, with progress."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from logs.search import client as cluster
from logs.search import indexer
from tests.logs.conftest import at, seed

pytestmark = pytest.mark.django_db


def test_refuses_without_opensearch(settings):
    settings.OPENSEARCH_URL = ""
    with pytest.raises(CommandError, match="OPENSEARCH_URL is not set"):
        call_command("search_reindex", "--all")


def test_refuses_an_unknown_tenant(settings, parties):
    settings.OPENSEARCH_URL = "http://opensearch.invalid:9200"
    with pytest.raises(CommandError, match="unknown tenant"):
        call_command("search_reindex", "--tenant", "nope")


def test_indexes_every_event_in_chunks_with_progress(settings, parties, monkeypatch):
    settings.OPENSEARCH_URL = "http://opensearch.invalid:9200"
    ids = seed(
        parties,
        "tenant-a",
        [
            {"user_id": "u", "action": "A", "resource_type": "r", "timestamp": at(m % 3)}
            for m in range(7)
        ],
    )
    seed(parties, "tenant-b", [{"user_id": "u", "action": "A", "resource_type": "r"}])
    sent: list[tuple[str, list]] = []
    prepared: list[object] = []
    monkeypatch.setattr(cluster, "client", lambda: object())
    monkeypatch.setattr(cluster, "ensure_index", lambda os_client: prepared.append(1) or "idx")
    monkeypatch.setattr(
        indexer,
        "index_rows",
        lambda tenant, rows, os_client, index: sent.append((tenant, rows, index)) or len(rows),
    )
    out = StringIO()
    call_command("search_reindex", "--tenant", "tenant-a", "--chunk", "3", stdout=out)
    assert [len(rows) for _, rows, _ in sent] == [3, 3, 1]
    assert {t for t, _, _ in sent} == {"tenant-a"}
    assert sorted(str(r["id"]) for _, rows, _ in sent for r in rows) == sorted(ids)
    # the index is made sure of once for the tenant, not once per chunk
    assert len(prepared) == 1 and {index for _, _, index in sent} == {"idx"}
    lines = out.getvalue().splitlines()
    assert lines[:4] == [
        "tenant-a: 0/7 (0%)",
        "tenant-a: 3/7 (43%)",
        "tenant-a: 6/7 (86%)",
        "tenant-a: 7/7 (100%)",
    ]
    assert lines[-1].startswith("indexed 7 event(s) of 1 tenant(s)")
