"""Micro-benchmark of encryption at rest: per-event seal and open, and export cells.

    DJANGO_SETTINGS_MODULE=auditlog_project.settings.test python scripts/bench/crypto_micro.py

No database and no server: a data key is put in the process's key cache (as
the first write of a tenant does), then the functions ingest, the list/get
path and the export call are timed on 1,000-event batches, best of 5. Prints
a Markdown table for docs/performance.md#encryption-at-rest.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from encryption import keyring, rows  # noqa: E402
from encryption.policy import DEFAULT  # noqa: E402
from logs.fields import EVENT_FIELDS  # noqa: E402
from logs.wire import encode_ndjson  # noqa: E402

TENANT = "bench-tenant"
BATCH = 1000
SHAPES = {
    "small (bench data, ~45 B each)": (
        {"status": "draft", "amount": 1234},
        {"status": "approved", "amount": 4321},
    ),
    "1 KiB each": ({"text": "x" * 1000}, {"text": "y" * 1000}),
}


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def prime_key() -> None:
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    keyring._remember_active(keyring.ActiveKey(TENANT, 1, aead, DEFAULT))


def items(before: dict, after: dict) -> list[dict]:
    return [
        {"id": str(uuid.uuid4()), "before": before, "after": after, "message": "m"}
        for _ in range(BATCH)
    ]


def export_row(item: dict) -> tuple:
    values = {name: None for name in EVENT_FIELDS}
    values.update(tenant_id=TENANT, id=item["id"], action="UPDATE", message="updated invoice")
    for name in ("before", "after"):
        values[name] = json.dumps(item[name])  # jsonb as text: a sealed string or an object
    return tuple(values[name] for name in EVENT_FIELDS)


def measure(before: dict, after: dict) -> dict[str, float]:
    plain = items(before, after)
    sealed = items(before, after)
    rows.seal_batch(TENANT, sealed)
    seal = best(lambda: rows.seal_batch(TENANT, items(before, after))) - best(
        lambda: items(before, after)
    )
    stored = [{**item, "tenant_id": TENANT} for item in sealed]
    open_ = best(lambda: rows.open_rows([dict(row) for row in stored])) - best(
        lambda: [dict(row) for row in stored]
    )
    sealed_rows = [export_row(item) for item in sealed]
    plain_rows = [export_row(item) for item in plain]
    cells_sealed = best(lambda: rows.open_export_chunk(sealed_rows))
    cells_plain = best(lambda: rows.open_export_chunk(plain_rows))
    encode = best(lambda: "".join(encode_ndjson([plain_rows])))
    dumps = best(lambda: [(json.dumps(before), json.dumps(after)) for _ in range(BATCH)])
    per = 1e6 / BATCH
    return {
        "seal": seal * per,
        "open": open_ * per,
        "export_sealed": cells_sealed * per,
        "export_plain": cells_plain * per,
        "encode": encode * per,
        "dumps": dumps * per,
    }


def main() -> int:
    prime_key()
    print(
        "| before/after | seal at ingest | open (list, get, replay) | export: open sealed cells "
        "| export: scan of rows without any | NDJSON encoding of the row (for scale) "
        "| json.dumps of before and after (for scale) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, (before, after) in SHAPES.items():
        m = measure(before, after)
        print(
            f"| {label} | {m['seal']:.1f} µs/event | {m['open']:.1f} µs/event "
            f"| {m['export_sealed']:.1f} µs/row | {m['export_plain']:.2f} µs/row "
            f"| {m['encode']:.1f} µs/row | {m['dumps']:.1f} µs/event |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
