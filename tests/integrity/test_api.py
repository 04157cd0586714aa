"""The integrity endpoints: proofs that verify offline, checkpoints and their
consistency, the public keys; tenant scoping and roles (three-party fixture)."""

from __future__ import annotations

import pytest

from integrity import verifier
from integrity.merkle import verify_consistency
from tests.integrity.conftest import ingest, seal

pytestmark = pytest.mark.django_db(transaction=True)


def get(parties, who, url):
    return parties.client(who).get(url)


def test_a_proof_and_the_public_keys_verify_the_event_offline(parties, sealing):
    ids = ingest(parties, "tenant-a", 3)
    seal(sealing, "tenant-a")
    keys = parties.client(None).get("/api/v1/integrity/keys")
    assert keys.status_code == 200
    proof = get(parties, "a_auditor", f"/api/v1/logs/{ids[1]}/proof?tenant_id=tenant-a").json()
    assert (proof["leaf_index"], proof["tree_size"]) == (1, 3)
    event = get(parties, "a_auditor", f"/api/v1/logs/{ids[1]}?tenant_id=tenant-a").json()
    bundle = {"checkpoint": proof["checkpoint"], "events": [{**event, "integrity": proof}]}
    report = verifier.verify_bundle(bundle, verifier.load_keys(keys.json()))
    assert report.failures == []
    assert report.verified == 1 and report.not_comparable == 1  # `before`, encrypted
    event["metadata"]["n"] = 7
    assert not verifier.verify_bundle(bundle, verifier.load_keys(keys.json())).ok


def test_a_proof_is_refused_until_a_checkpoint_covers_the_event(parties, sealing):
    from pipeline import drain as draining

    (event_id,) = ingest(parties, "tenant-a", 1)
    draining.drain(sealing)  # sealed, not yet checkpointed
    response = get(parties, "a_admin", f"/api/v1/logs/{event_id}/proof?tenant_id=tenant-a")
    assert response.status_code == 409


def test_proofs_are_tenant_scoped(parties, sealing):
    (a_event,) = ingest(parties, "tenant-a", 1, user="someone-else")
    (own,) = ingest(parties, "tenant-a", 1, user="ursula")
    ingest(parties, "tenant-b", 1)
    seal(sealing, "tenant-a", "tenant-b")
    url = f"/api/v1/logs/{a_event}/proof"
    assert get(parties, "a_admin", f"{url}?tenant_id=tenant-a").status_code == 200
    assert get(parties, "b_admin", f"{url}?tenant_id=tenant-a").status_code == 403
    assert get(parties, "b_admin", f"{url}?tenant_id=tenant-b").status_code == 404
    assert get(parties, "b_admin", url).status_code == 404  # inferred: tenant B
    assert get(parties, "outsider", f"{url}?tenant_id=tenant-a").status_code == 403
    assert get(parties, None, f"{url}?tenant_id=tenant-a").status_code == 401
    # The `user` role gets proofs of its own events only, like the event itself.
    assert get(parties, "a_user", f"{url}?tenant_id=tenant-a").status_code == 404
    own_url = f"/api/v1/logs/{own}/proof?tenant_id=tenant-a"
    assert get(parties, "a_user", own_url).status_code == 200
    assert get(parties, "platform_admin", f"{url}?tenant_id=tenant-a").status_code == 200


def test_checkpoints_are_tenant_scoped_and_consistent(parties, sealing):
    ingest(parties, "tenant-a", 3)
    ingest(parties, "tenant-b", 2)
    seal(sealing, "tenant-a", "tenant-b")
    ingest(parties, "tenant-a", 4)
    seal(sealing, "tenant-a")
    listed = get(parties, "a_auditor", "/api/v1/integrity/checkpoints?tenant_id=tenant-a").json()
    assert [(c["tenant_id"], c["tree_size"]) for c in listed["results"]] == [
        ("tenant-a", 7),
        ("tenant-a", 3),
    ]
    assert listed["results"][0]["previous"] != ""
    b_view = get(parties, "b_admin", "/api/v1/integrity/checkpoints").json()["results"]
    assert [(c["tenant_id"], c["tree_size"]) for c in b_view] == [("tenant-b", 2)]
    for who in ("b_admin", "b_user", "outsider"):
        url = "/api/v1/integrity/checkpoints?tenant_id=tenant-a"
        assert get(parties, who, url).status_code == 403
    assert get(parties, None, "/api/v1/integrity/checkpoints").status_code == 401

    url = "/api/v1/integrity/checkpoints/consistency?tenant_id=tenant-a&first=3&second=7"
    proof = get(parties, "a_auditor", url).json()
    verify_consistency(
        3,
        7,
        [bytes.fromhex(h) for h in proof["path"]],
        bytes.fromhex(proof["first"]["root"]),
        bytes.fromhex(proof["second"]["root"]),
    )
    assert get(parties, "a_auditor", url.replace("first=3", "first=2")).status_code == 400
    other = "/api/v1/integrity/checkpoints/consistency?tenant_id=tenant-b&first=2&second=2"
    assert get(parties, "a_auditor", other).status_code == 403
    assert get(parties, "b_admin", other).status_code == 200


def export_body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_export_with_proofs_verifies_offline_and_a_modified_one_does_not(
    parties, sealing, tmp_path
):
    import json
    import subprocess
    import sys
    from pathlib import Path

    ids = ingest(parties, "tenant-a", 4)
    seal(sealing, "tenant-a")
    later = ingest(parties, "tenant-a", 1)  # sealed after the checkpoint: not covered
    ingest(parties, "tenant-b", 2)
    seal(sealing, "tenant-b")
    url = "/api/v1/logs/export?tenant_id=tenant-a&format=json&proofs=true&ordering=timestamp"
    response = get(parties, "a_auditor", url)
    assert response.status_code == 200
    bundle = json.loads(export_body(response))
    assert [e["id"] for e in bundle["events"]] == ids
    assert bundle["not_covered"] == later
    assert bundle["checkpoint"]["tenant_id"] == "tenant-a"
    (tmp_path / "export.json").write_bytes(json.dumps(bundle).encode())
    (tmp_path / "keys.json").write_text(
        json.dumps(get(parties, None, "/api/v1/integrity/keys").json())
    )
    bundle["events"][2]["resource_type"] = "invoice"
    (tmp_path / "modified.json").write_text(json.dumps(bundle))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def verify(name):
        command = [sys.executable, "-m", "integrity.verifier", name, "--key", "keys.json"]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)

    genuine = verify("export.json")
    assert genuine.returncode == 0, genuine.stdout
    assert genuine.stdout.startswith("OK: 4 event(s) verified")
    modified = verify("modified.json")
    assert modified.returncode == 1
    assert f"FAIL event {ids[2]}: fields differ from the sealed record: resource_type" in (
        modified.stdout
    )


def test_an_export_with_proofs_is_scoped_and_json_only(parties, sealing):
    import json

    ingest(parties, "tenant-a", 2, user="someone-else")
    (own,) = ingest(parties, "tenant-a", 1, user="ursula")
    seal(sealing, "tenant-a")
    url = "/api/v1/logs/export?tenant_id=tenant-a&format=json&proofs=true"
    mine = json.loads(export_body(get(parties, "a_user", url)))
    assert [e["id"] for e in mine["events"]] == [own]
    assert get(parties, "b_admin", url).status_code == 403
    csv = get(parties, "a_admin", url.replace("format=json", "format=csv"))
    assert csv.status_code == 400
    assert get(parties, "a_admin", url.replace("proofs=true", "proofs=yes")).status_code == 400


def test_proofs_past_the_first_blocks_verify(parties, sealing):
    from integrity.merkle import leaf_hash, verify_inclusion

    ids = ingest(parties, "tenant-a", 300)
    seal(sealing, "tenant-a")
    ids += ingest(parties, "tenant-a", 300)  # 600 leaves: 2 whole blocks and a tail
    seal(sealing, "tenant-a")
    for index in (0, 255, 256, 300, 511, 512, 599):
        url = f"/api/v1/logs/{ids[index]}/proof?tenant_id=tenant-a"
        proof = get(parties, "a_auditor", url).json()
        assert (proof["leaf_index"], proof["tree_size"]) == (index, 600)
        verify_inclusion(
            leaf_hash(proof["record"].encode()),
            index,
            600,
            [bytes.fromhex(h) for h in proof["path"]],
            bytes.fromhex(proof["checkpoint"]["root"]),
        )
    url = "/api/v1/integrity/checkpoints/consistency?tenant_id=tenant-a&first=300&second=600"
    proof = get(parties, "a_auditor", url).json()
    verify_consistency(
        300,
        600,
        [bytes.fromhex(h) for h in proof["path"]],
        bytes.fromhex(proof["first"]["root"]),
        bytes.fromhex(proof["second"]["root"]),
    )
