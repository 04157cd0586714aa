"""The standalone verifier: checks events and their proofs against a signed checkpoint.

No Django here: a third party runs it with Python 3.11 and `cryptography` only,
on an export made with `proofs=true` or on saved proof answers:

    python -m integrity.verifier export.json --key keys.json

`export.json` is a bundle: `{"checkpoint": {...signed checkpoint...},
"events": [{...the event's fields..., "integrity": {"leaf_index", "record",
"path": [hex, ...]}}]}`. `keys.json` is the answer of `GET
/api/v1/integrity/keys` (or a file holding one base64 public key). For each
event it checks that its record hashes into the checkpoint's tree at its
index, that the record is the event's (same tenant and id) and that every
field shown equals the record's; encrypted fields are shown opened while the
record holds their ciphertext, so those are counted as not comparable. Exit
status 0 when everything verifies, 1 otherwise, with one line per failure.
See docs/integrity.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .encoding import parse_utc
from .merkle import ProofError, leaf_hash, verify_inclusion
from .signing import BadSignature, public_from_text, verify

SEALED_MARK = "\x01"
TIME_FIELDS = frozenset({"timestamp", "received_at"})


@dataclass
class Report:
    """What a verification found: failures name the event id or the checkpoint."""

    verified: int = 0
    not_comparable: int = 0  # encrypted fields: the record holds their ciphertext
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def load_keys(document: Any) -> dict[str, bytes]:
    """key_id -> raw public key, from the keys endpoint's answer or one base64 key."""
    from .signing import key_id

    if isinstance(document, str):
        raw = public_from_text(document.strip())
        return {key_id(raw): raw}
    entries = document.get("keys", []) if isinstance(document, Mapping) else document
    return {entry["key_id"]: public_from_text(entry["public_key"]) for entry in entries}


def verify_checkpoint(checkpoint: Mapping[str, Any], keys: Mapping[str, bytes]) -> None:
    """Raises BadSignature unless the checkpoint is signed by one of `keys`."""
    public = keys.get(checkpoint.get("key_id", ""))
    if public is None:
        raise BadSignature(f"checkpoint signed by unknown key {checkpoint.get('key_id')!r}")
    verify(public, checkpoint, checkpoint["signature"])


def verify_bundle(bundle: Mapping[str, Any], keys: Mapping[str, bytes]) -> Report:
    report = Report()
    checkpoint = bundle["checkpoint"]
    try:
        verify_checkpoint(checkpoint, keys)
    except BadSignature as exc:
        report.failures.append(f"checkpoint {checkpoint.get('tree_size')}: {exc}")
        return report
    root = bytes.fromhex(checkpoint["root"])
    for event in bundle["events"]:
        problem = _event_problem(event, checkpoint, root, report)
        if problem:
            report.failures.append(f"event {event.get('id')}: {problem}")
        else:
            report.verified += 1
    return report


def _event_problem(
    event: Mapping[str, Any], checkpoint: Mapping[str, Any], root: bytes, report: Report
) -> str | None:
    proof = event.get("integrity") or {}
    record_text = proof.get("record")
    if not isinstance(record_text, str):
        return "no proof"
    try:
        path = [bytes.fromhex(node) for node in proof["path"]]
        verify_inclusion(
            leaf_hash(record_text.encode()),
            proof["leaf_index"],
            checkpoint["tree_size"],
            path,
            root,
        )
    except (ProofError, ValueError, KeyError, TypeError) as exc:
        return f"not in the checkpoint's tree ({exc})"
    record = json.loads(record_text)
    if record.get("tenant_id") != checkpoint["tenant_id"]:
        return "record of another tenant"
    return _fields_problem(event, record, report)


def _fields_problem(
    event: Mapping[str, Any], record: Mapping[str, Any], report: Report
) -> str | None:
    names = (set(event) | set(record)) - {"integrity"}
    differing = []
    for name in sorted(names):
        shown, stored = event.get(name), record.get(name)
        if isinstance(stored, str) and stored.startswith(SEALED_MARK) and shown != stored:
            report.not_comparable += 1
        elif not _same(name, shown, stored):
            differing.append(name)
    return f"fields differ from the sealed record: {', '.join(differing)}" if differing else None


def _same(name: str, shown: Any, stored: Any) -> bool:
    if shown is None or stored is None:
        return shown is None and stored is None
    if name in TIME_FIELDS:
        return parse_utc(str(shown)) == parse_utc(str(stored))
    if isinstance(shown, str) and not isinstance(stored, str):
        try:
            shown = json.loads(shown)  # jsonb written as text
        except ValueError:
            return False
    return bool(shown == stored)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m integrity.verifier", description=__doc__)
    parser.add_argument("bundle", type=Path, help="an export made with proofs=true")
    parser.add_argument("--key", type=Path, required=True, help="keys JSON or a base64 key")
    args = parser.parse_args(argv)
    key_text = args.key.read_text()
    try:
        keys = load_keys(json.loads(key_text))
    except ValueError:
        keys = load_keys(key_text)
    report = verify_bundle(json.loads(args.bundle.read_text()), keys)
    for failure in report.failures:
        print(f"FAIL {failure}")
    print(
        f"{'OK' if report.ok else 'FAILED'}: {report.verified} event(s) verified, "
        f"{len(report.failures)} failure(s), {report.not_comparable} encrypted field(s) "
        "checked as ciphertext only"
    )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
