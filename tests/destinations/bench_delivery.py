"""Micro-benchmark: delivery throughput to a local receiver, and the queueing cost.

Not part of the suite (the file name does not start with `test_`); run it by
path, alone:

    DJANGO_SETTINGS_MODULE=auditlog_project.settings.test \\
        .venv/bin/pytest -q -p no:cacheprovider -s tests/destinations/bench_delivery.py

In process: EVENTS events in TRANSACTIONS committed writes, one drain of the
destinations consumer (queueing), then one delivery run to a real
http.server receiver on 127.0.0.1 (reading, decrypting, encoding, signing,
POSTing batches of DESTINATIONS_BATCH_EVENTS). Prints events per second.
"""

from __future__ import annotations

import time

import pytest

from tests.destinations.helpers import deliver, drain, ingest
from tests.destinations.receiver import running_receiver
from tests.destinations.test_delivery import register

pytestmark = pytest.mark.django_db(transaction=True)

TRANSACTIONS = 40
PER_TRANSACTION = 250


def test_delivery_throughput(parties, settings):
    settings.DESTINATIONS_ALLOW_PRIVATE = True
    settings.DESTINATIONS_REQUIRE_HTTPS = False
    settings.PIPELINE_CONSUMERS = ["destinations.queueing.CONSUMER"]
    with running_receiver() as receiver:
        created = register(parties, receiver.url)
        for _ in range(TRANSACTIONS):
            ingest("tenant-a", PER_TRANSACTION)
        total = TRANSACTIONS * PER_TRANSACTION
        started = time.perf_counter()
        while drain().more:
            pass
        queued = time.perf_counter() - started
        started = time.perf_counter()
        outcome = deliver(created["id"])
        sent = time.perf_counter() - started
        assert outcome.delivered == total and len(receiver.event_ids()) == total
        size = sum(len(r.body) for r in receiver.requests) / total
        print(
            f"\nqueueing (drain): {total} events in {queued:.3f} s = {total / queued:,.0f} events/s"
            f"\ndelivery: {total} events, {outcome.posts} POSTs, {sent:.3f} s = "
            f"{total / sent:,.0f} events/s, {size:.0f} bytes/event on the wire"
        )
