"""Micro-benchmark of the tamper-evident log: sealing, proofs, full verification.

Not part of the suite (the file name does not start with `test_`); run it by
path, alone:

    DJANGO_SETTINGS_MODULE=auditlog_project.settings.test \\
        .venv/bin/pytest -q -p no:cacheprovider -s tests/integrity/bench_integrity.py

In process, on PostgreSQL: EVENTS events in TRANSACTIONS committed writes,
then one drain of the integrity consumer to the end (reading the rows is the
pipeline's part; sealing is the handler's: records, hashes, leaves inserted,
the tree's edge saved), a checkpoint, PROOFS inclusion proofs of random
events (as the proof endpoint computes them, without HTTP), and one full
verification of the tenant. Prints the rows docs/integrity.md quotes.
"""

from __future__ import annotations

import random
import statistics
import time

import pytest
from django.db import transaction

from integrity import consumers, selectors, services
from integrity.verification import tenant_verify
from logs.fields import EVENT_FIELDS
from logs.models import Event
from pipeline import drain as draining
from pipeline.consumers import Consumer
from tenants.scoping import activate
from tests.destinations.helpers import ingest

pytestmark = pytest.mark.django_db(transaction=True)

TRANSACTIONS = 40
PER_TRANSACTION = 500
PROOFS = 200


def test_integrity_throughput(parties, settings):
    settings.PIPELINE_CONSUMERS = ["integrity.consumers.CONSUMER"]
    settings.PIPELINE_DRAIN_EVENTS = 5000
    ids = [i for _ in range(TRANSACTIONS) for i in ingest("tenant-a", PER_TRANSACTION)]
    total = len(ids)
    handler_seconds = [0.0]

    def timed(batches):
        started = time.perf_counter()
        consumers.handle(batches)
        handler_seconds[0] += time.perf_counter() - started

    consumer = Consumer(name="integrity", handle=timed, wants_rows=False)
    started = time.perf_counter()
    while draining.drain(consumer).more:
        pass
    drained = time.perf_counter() - started
    services.checkpoint_create(tenant_id="tenant-a")

    latencies = []
    for event_id in random.sample(ids, PROOFS):
        started = time.perf_counter()
        with transaction.atomic():
            activate("tenant-a")
            row = Event.objects.filter(tenant_id="tenant-a", id=event_id).values(*EVENT_FIELDS)
            proof = selectors.event_proof(tenant_id="tenant-a", row=row.get())
        latencies.append(time.perf_counter() - started)
        assert proof["tree_size"] == total
    started = time.perf_counter()
    assert tenant_verify(tenant_id="tenant-a") == []
    verified = time.perf_counter() - started
    p50 = statistics.median(latencies) * 1000
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
    print(
        f"\nsealing (handler): {total} events in {handler_seconds[0]:.3f} s = "
        f"{total / handler_seconds[0]:,.0f} events/s"
        f"\nsealing (drain): {drained:.3f} s = {total / drained:,.0f} events/s"
        f"\nproof at tree size {total}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({PROOFS} proofs)"
        f"\nfull verification: {total} events, {verified:.3f} s = {total / verified:,.0f} events/s"
    )
