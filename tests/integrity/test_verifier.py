"""The standalone verifier (integrity/verifier.py, encoding.py, signing.py),
without a database: records, signatures, bundles, the command line, and that
it imports nothing of Django."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrity import encoding, signing, verifier
from integrity.merkle import inclusion_proof, leaf_hash, root_of, subtree_over

ROOT_DIR = Path(__file__).resolve().parents[2]
SECRET = "a-test-signing-secret-of-forty-characters-at-least"
KEY = signing.private_key_from_secret(SECRET)
DIFFER = "fields differ from the sealed record: "


def EID(n: int) -> str:
    return str(uuid.UUID(int=n))


PUBLIC = signing.public_bytes(KEY)


def stored_row(n: int) -> dict:
    return {
        "id": uuid.UUID(int=n),
        "tenant_id": "tenant-a",
        "timestamp": datetime(2026, 12, 1, 10, 0, n, 5, tzinfo=UTC),
        "received_at": datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC),
        "user_id": "alice",
        "session_id": None,
        "action": "LOGIN",
        "resource_type": "session",
        "ip_address": "10.0.0.1",
        "message": "héllo",
        "before": "\x01v1.1.c2VhbGVk",  # a sealed value, as stored
        "metadata": {"b": 1.5, "a": [1, 2], "password": "[masked]"},
        "masked": ["metadata.password"],
    }


def api_json(row: dict) -> dict:
    """The row as the API shows it: times with Z, the sealed field opened."""
    shown = {k: v for k, v in row.items()}
    shown["id"] = str(row["id"])
    for name in ("timestamp", "received_at"):
        shown[name] = row[name].isoformat().replace("+00:00", "Z")
    shown["before"] = {"plain": "text"}
    return shown


def bundle(rows: list[dict], size: int | None = None) -> dict:
    records = [encoding.event_record(row) for row in rows]
    leaves = [leaf_hash(r) for r in records]
    size = size or len(leaves)
    checkpoint = {
        "tenant_id": "tenant-a",
        "tree_size": size,
        "root": root_of(leaves[:size]).hex(),
        "timestamp": "2026-12-01T10:01:00.000000Z",
        "previous": "",
        "key_id": signing.key_id(PUBLIC),
    }
    checkpoint["signature"] = signing.sign(KEY, checkpoint)
    subtree = subtree_over(leaves)
    events = []
    for index, row in enumerate(rows[:size]):
        path = [p.hex() for p in inclusion_proof(index, size, subtree)]
        event = api_json(row)
        event["integrity"] = {"leaf_index": index, "record": records[index].decode(), "path": path}
        events.append(event)
    return {"checkpoint": checkpoint, "events": events}


KEYS = {"keys": [{"key_id": signing.key_id(PUBLIC), "public_key": signing.public_text(PUBLIC)}]}


def test_the_record_is_sorted_compact_json_of_the_stored_values():
    record = encoding.event_record(stored_row(1))
    assert record.startswith(b'{"action":"LOGIN","before":"\\u0001v1.1.c2VhbGVk"')
    assert b'"timestamp":"2026-12-01T10:00:01.000005Z"' in record
    assert b'"metadata":{"a":[1,2],"b":1.5,"password":"[masked]"}' in record
    assert "héllo".encode() in record  # UTF-8, not \\u escapes
    assert b"session_id" not in record  # nulls left out


def test_a_genuine_bundle_verifies():
    report = verifier.verify_bundle(
        bundle([stored_row(n) for n in range(5)]), verifier.load_keys(KEYS)
    )
    assert report.failures == []
    assert (report.verified, report.not_comparable) == (5, 5)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda b: b["events"][2].update(user_id="mallory"),
            f"event {EID(2)}: {DIFFER}user_id",
        ),
        (
            lambda b: b["events"][1].update(timestamp="2026-12-01T10:00:09Z"),
            f"event {EID(1)}: {DIFFER}timestamp",
        ),
        (
            lambda b: b["events"][3]["integrity"].update(
                record=b["events"][3]["integrity"]["record"].replace("alice", "eve")
            ),
            "event 00000000-0000-0000-0000-000000000003: not in the checkpoint's tree",
        ),
        (
            lambda b: b["events"][0]["integrity"].update(leaf_index=1),
            "event 00000000-0000-0000-0000-000000000000: not in the checkpoint's tree",
        ),
        (lambda b: b["checkpoint"].update(tree_size=4), "checkpoint 4: bad signature"),
        (lambda b: b["checkpoint"].update(root="00" * 32), "checkpoint 5: bad signature"),
    ],
)
def test_a_modified_bundle_is_refused_naming_what_changed(change, expected):
    modified = bundle([stored_row(n) for n in range(5)])
    change(modified)
    report = verifier.verify_bundle(modified, verifier.load_keys(KEYS))
    assert len(report.failures) == 1
    assert report.failures[0].startswith(expected)


def test_a_checkpoint_signed_by_another_key_is_refused():
    other = signing.private_key_from_secret("another-secret-of-forty-characters-or-more!")
    forged = bundle([stored_row(1)])
    forged["checkpoint"]["key_id"] = signing.key_id(signing.public_bytes(other))
    forged["checkpoint"]["signature"] = signing.sign(other, forged["checkpoint"])
    report = verifier.verify_bundle(forged, verifier.load_keys(KEYS))
    assert report.failures == [
        f"checkpoint 1: checkpoint signed by unknown key {forged['checkpoint']['key_id']!r}"
    ]


def test_the_command_line_accepts_a_genuine_export_and_rejects_a_modified_one(tmp_path):
    (tmp_path / "keys.json").write_text(json.dumps(KEYS))
    good = bundle([stored_row(n) for n in range(3)])
    (tmp_path / "good.json").write_text(json.dumps(good))
    bad = json.loads(json.dumps(good))
    bad["events"][0]["action"] = "LOGOUT"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    # Run as a third party would: no Django settings, and Django must not be imported.
    guard = "import sys; import integrity.verifier; assert 'django' not in sys.modules"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT_DIR)}
    subprocess.run([sys.executable, "-c", guard], check=True, env=env)
    ok = subprocess.run(
        [sys.executable, "-m", "integrity.verifier", "good.json", "--key", "keys.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK: 3 event(s) verified")
    bad_run = subprocess.run(
        [sys.executable, "-m", "integrity.verifier", "bad.json", "--key", "keys.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad_run.returncode == 1
    assert f"FAIL event {EID(0)}: {DIFFER}action" in bad_run.stdout
