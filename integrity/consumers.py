"""The pipeline's `integrity` consumer: committed events sealed into their tenant's tree.

The drain (pipeline/drain.py) hands the batches in commit order, inside its
transaction, so the leaves commit with the consumer's watermark; a batch
handed again finds its events sealed already (services.leaves_seal).
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.consumers import Consumer, PendingBatch

from . import services


def handle(batches: Sequence[PendingBatch]) -> None:
    services.leaves_seal(batches)


CONSUMER = Consumer(
    name="integrity",
    handle=handle,
    wants_rows=False,  # reads the stored rows itself, faster (integrity/rows.py)
    description="Committed events sealed into per-tenant Merkle trees (integrity/)",
)
