"""The publisher under a burst: every scheduled send reaches Redis, none fails
for want of a connection (the channel layer's pool holds 100)."""

from __future__ import annotations

import uuid

from logs.stream import publish, publish_flush


def test_a_burst_of_publishes_all_reach_redis():
    """1,000 committed writes a second from one process schedule that many
    sends at once; unbounded, more than 100 in flight failed with
    MaxConnectionsError and the live viewers lost those events."""
    event = {"id": str(uuid.uuid4()), "tenant_id": "burst", "action": "BURST"}
    futures = [publish("burst", [event]) for _ in range(600)]
    publish_flush(timeout=60)
    failed = [f.exception() for f in futures if f.exception() is not None]
    assert failed == []
