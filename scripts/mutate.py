#!/usr/bin/env python3
"""Targeted mutation testing: break the code that decides isolation, idempotency,
durability and limits, one mutation at a time, and check the tests notice.

Each mutation replaces one small code snippet (found exactly once in its file)
and runs the tests that should catch it. A mutation is CAUGHT when those tests
fail, SURVIVED when they pass (a gap in the suite), SKIPPED when its snippet is
no longer in the file (the code was refactored: update the list). The file is
restored after every run, whatever happens.

Not part of `make test` (it runs the selected tests once per mutation, several
minutes in all); the tests it runs start their own moto server:

    TEST_RUN_ID=mutate SQS_ENDPOINT_URL=http://127.0.0.1:9340 \\
      .venv/bin/python scripts/mutate.py [-k NAME]

Exit status 1 when any mutation survived. See docs/testing.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str
    find: str
    replace: str
    tests: tuple[str, ...]  # pytest arguments: paths, node ids, -k expressions


MUTATIONS = [
    # --- isolation -----------------------------------------------------------
    Mutation(
        "scoped queryset without the tenant filter",
        "tenants/scoping.py",
        "._default_manager.filter(tenant_id=self.access.tenant_id)",
        "._default_manager.all()",
        ("tests/tenants/test_app_level_filter.py",),
    ),
    Mutation(
        "tenant never activated for row-level security",
        "tenants/scoping.py",
        "        activate(self.access.tenant_id)\n",
        "        pass\n",
        ("tests/logs/test_read.py", "tests/logs/test_ingest.py"),
    ),
    Mutation(
        "role check skipped",
        "tenants/scoping.py",
        "if not self.access.allows(operation):",
        "if False:",
        ("tests/tenants/test_role_matrix.py", "tests/logs/test_role_matrix_events.py"),
    ),
    Mutation(
        "the user role sees every event of its tenant",
        "tenants/scoping.py",
        "if actor_field and self.access.sees_only_own_events:",
        "if False:",
        ("tests/logs/test_role_matrix_events.py", "tests/logs/test_read.py"),
    ),
    Mutation(
        "every caller resolved like a platform administrator",
        "tenants/scoping.py",
        "    if user.is_superuser:\n        tenant = Tenant.objects",
        "    if True:\n        tenant = Tenant.objects",
        ("tests/tenants/", "tests/logs/test_ingest.py"),
    ),
    # --- idempotency ---------------------------------------------------------
    Mutation(
        "a retry naming its timestamp is a conflict",
        "logs/validation.py",
        "return not retry.timestamp_given or retry.timestamp == timestamp",
        "return not retry.timestamp_given",
        ("tests/logs/test_ingest.py", "tests/logs/test_bulk.py"),
    ),
    Mutation(
        "a retry at another timestamp is the same event",
        "logs/validation.py",
        "return not retry.timestamp_given or retry.timestamp == timestamp",
        "return True",
        ("tests/logs/test_ingest.py", "tests/logs/test_bulk.py"),
    ),
    Mutation(
        "a retry with other content is the same event",
        "logs/validation.py",
        "    if bytes(content_hash) != retry.content_hash:\n        return False\n",
        "",
        ("tests/logs/test_ingest.py", "tests/logs/test_bulk.py"),
    ),
    Mutation(
        "conflicting retries are not refused",
        "logs/services.py",
        "    if clashes:\n        raise Conflict(",
        "    if False:\n        raise Conflict(",
        ("tests/logs/test_ingest.py", "tests/logs/test_bulk.py"),
    ),
    # --- durability and side effects ------------------------------------------
    Mutation(
        "event writes with synchronous_commit=off",
        "logs/services.py",
        "        cursor.execute(INSERT_SQL, params)",
        '        cursor.execute("SET LOCAL synchronous_commit = off")\n'
        "        cursor.execute(INSERT_SQL, params)",
        ("tests/logs/test_durability.py", "-k", "postgresql"),
    ),
    Mutation(
        "stream publish before COMMIT",
        "logs/services.py",
        "transaction.on_commit(lambda: events_committed(tenant_id, rows))",
        "events_committed(tenant_id, rows)",
        ("tests/logs/test_after_commit.py", "tests/logs/test_ingest.py"),
    ),
    # --- limits -----------------------------------------------------------------
    Mutation(
        "rate limits (API and logins) never refuse",
        "auditlog_project/ratelimits.py",
        "or '0') + 1 > tonumber(ARGV[3 * i - 2])",
        "or '0') + 1 > 1e12 + tonumber(ARGV[3 * i - 2])",
        ("tests/", "-k", "rate or limit or throttl or 429 or login"),
    ),
    Mutation(
        "rate limits (API and logins) one request late",
        "auditlog_project/ratelimits.py",
        "or '0') + 1 > tonumber(ARGV[3 * i - 2])",
        "or '0') > tonumber(ARGV[3 * i - 2])",
        ("tests/", "-k", "rate or limit or throttl or 429 or login"),
    ),
    Mutation(
        "a refused request still counts",
        "auditlog_project/ratelimits.py",
        "if #refused > 0 then return refused end",
        "",
        ("tests/", "-k", "rate or limit or throttl or 429 or login"),
    ),
    Mutation(
        "a place under several caps is taken under the first ones before one is full",
        "auditlog_project/ratelimits.py",
        "then return i end\nend\nfor _, key in ipairs(KEYS) do\n"
        "  redis.call('ZADD', key, ARGV[2], ARGV[3])",
        "then return i end\n  redis.call('ZADD', key, ARGV[2], ARGV[3])\nend\n"
        "for _, key in ipairs(KEYS) do",
        ("tests/project/test_ratelimits.py", "tests/logs/test_stream_resume.py"),
    ),
    Mutation(
        "the stream's heartbeat does not refresh its place",
        "logs/consumers.py",
        "            await arefresh_slot(self.slot, slot_ttl())",
        "            pass",
        ("tests/logs/test_stream_resume.py", "-k", "heartbeat"),
    ),
    # --- backup and recovery -----------------------------------------------------
    Mutation(
        "backups: restore without the dump's privileges (REVOKE FROM PUBLIC lost)",
        "backups/pg.py",
        '        "--no-owner",\n',
        '        "--no-owner",\n        "--no-privileges",\n',
        ("tests/backups/test_drill.py",),
    ),
    Mutation(
        "backups: restore without the download's checksum check",
        "backups/services.py",
        "        _check_download(manifest, size, digest)\n",
        "        pass\n",
        ("tests/backups/test_restore_refusals.py", "-k", "corrupted"),
    ),
    Mutation(
        "backups: restore without the read-back check",
        "backups/services.py",
        "    if differences:\n",
        "    if False:\n",
        ("tests/backups/test_restore_refusals.py", "-k", "differ"),
    ),
    Mutation(
        "backups: manifest and dump from different snapshots",
        "backups/pg.py",
        '        f"--snapshot={snapshot}",\n',
        "",
        ("tests/backups/test_restore_refusals.py", "-k", "during"),
    ),
    Mutation(
        "backups: retention keeps the oldest backups",
        "backups/services.py",
        "complete[-settings.BACKUP_KEEP_COUNT :]",
        "complete[: settings.BACKUP_KEEP_COUNT]",
        ("tests/backups/test_schedule.py", "-k", "retention"),
    ),
    # --- access that ends (ADR 0011) -------------------------------------------
    Mutation(
        "a removed membership tells nobody",
        "tenants/signals.py",
        "    post_delete.connect(\n",
        "    (lambda *a, **k: None)(\n",
        ("tests/project/test_access_hook.py", "-k", "membership_paths"),
    ),
    Mutation(
        "an open stream ignores the access-change notice",
        "logs/consumers.py",
        "            await self._recheck_access()\n",
        "            pass\n",
        ("tests/logs/test_stream_revocation.py", "-k", "removing_a_membership"),
    ),
    Mutation(
        "an open stream never re-checks on its heartbeat",
        "logs/consumers.py",
        "        if time.monotonic() >= self.recheck_due and not await self._recheck_access():",
        "        if False:",
        ("tests/logs/test_stream_revocation.py", "-k", "periodic"),
    ),
    # --- masking at ingest (ADR 0015) -----------------------------------------
    Mutation(
        "the cheap screen misses JWTs and PEM keys",
        "masking/rules.py",
        '    if "eyJ" in text or "PRIVATE KEY-----" in text:\n        return True\n',
        "",
        ("tests/masking/test_rules.py", "tests/masking/test_ingest_masking.py", "-k", "jwt or pem"),
    ),
    Mutation(
        "a policy change leaves compiled policies in place",
        "masking/services.py",
        'update(masking_version=F("masking_version") + 1)',
        'update(masking_version=F("masking_version"))',
        ("tests/masking/test_ingest_masking.py", "-k", "policy_change"),
    ),
    Mutation(
        "the content hash is of the original event",
        "logs/validation/__init__.py",
        "= check_json_object(value) if RULES[name].json else value",
        "= hashed[HASHED.index(name)]",
        ("tests/masking/test_ingest_masking.py", "-k", "content_hash"),
    ),
]


def run_tests(args: tuple[str, ...], reuse_db: bool) -> tuple[bool, float]:
    """(passed, seconds) for one pytest run of `args`."""
    command = [str(ROOT / ".venv" / "bin" / "pytest"), "-x", "-q", "-p", "no:cacheprovider"]
    command += ["--reuse-db" if reuse_db else "--create-db", *args]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.test"}
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return done.returncode == 0, time.monotonic() - started


def apply(mutation: Mutation) -> tuple[Path, str] | None:
    """(file, its original text) after applying `mutation`; None when its snippet is gone.

    `mutation.path` names a file; when that file has become a package (or the
    path names a folder), the snippet is looked for in every module under it.
    The snippet must occur exactly once in all.
    """
    path = ROOT / mutation.path
    folder = path if path.is_dir() else path.with_suffix("")
    candidates = [path] if path.is_file() else sorted(folder.rglob("*.py"))
    found = [(c, c.read_text()) for c in candidates]
    hits = [(c, text) for c, text in found if mutation.find in text]
    if len(hits) != 1 or hits[0][1].count(mutation.find) != 1:
        return None
    target, original = hits[0]
    target.write_text(original.replace(mutation.find, mutation.replace))
    return target, original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", help="only mutations whose name contains this text")
    options = parser.parse_args()
    chosen = [m for m in MUTATIONS if not options.k or options.k in m.name]
    passed, seconds = run_tests(("tests/logs/test_ingest.py",), reuse_db=False)
    if not passed:
        print("the unmutated tests fail: fix them first", file=sys.stderr)
        return 2
    results = []
    for mutation in chosen:
        applied = apply(mutation)
        if applied is None:
            outcome, seconds = "SKIPPED (snippet not found once: update scripts/mutate.py)", 0.0
        else:
            target, original = applied
            try:
                survived, seconds = run_tests(mutation.tests, reuse_db=True)
            finally:
                target.write_text(original)
            outcome = "SURVIVED" if survived else "caught"
        results.append((mutation, outcome))
        print(f"{outcome:9} {seconds:6.1f}s  {mutation.path}: {mutation.name}", flush=True)
    caught = sum(outcome == "caught" for _, outcome in results)
    survivors = [m.name for m, outcome in results if outcome == "SURVIVED"]
    skipped = len(results) - caught - len(survivors)
    print(f"\n{caught} caught, {len(survivors)} survived, {skipped} skipped")
    for name in survivors:
        print(f"  survived: {name}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
