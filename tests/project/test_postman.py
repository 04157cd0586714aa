"""The Postman collection (docs/postman/), run by newman against the real servers.

The collection calls every path and method of docs/openapi.yaml and asserts the
answers (status, content type, shape, the values the contract promises, its
refusals). Here newman runs it against the `make run` topology (nginx in front
of the gunicorn pools and the stream, tests/processes.py `served()`) and a
Celery worker (the collection waits for an alert to fire), on the test
database, as the `parties` platform administrator. A second test keeps the
collection from drifting from the schema: every operation must be requested.

newman is the project-local binary `node_modules/.bin/newman`, pinned in
package.json and package-lock.json; when it is missing the first test installs
it with `npm ci`, so `make test` on a fresh machine needs only Node.js and npm.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.fixtures import PASSWORD
from tests.processes import celery_worker, served

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "docs" / "postman" / "auditlog.postman_collection.json"
ENVIRONMENT = ROOT / "docs" / "postman" / "local.postman_environment.json"
OPENAPI = ROOT / "docs" / "openapi.yaml"
NEWMAN = ROOT / "node_modules" / ".bin" / "newman"
NEWMAN_SECONDS = 90  # the run takes about 10 s
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# Requested by the collection beside the API: probes and the schema (no auth).
OUTSIDE_THE_SCHEMA = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/api/schema/")}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def newman() -> Path:
    """The pinned newman, installed with `npm ci` from package-lock.json if missing."""
    if NEWMAN.exists():
        return NEWMAN
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "npm is missing: this test runs the Postman collection with newman, installed "
            "by `npm ci` from package-lock.json. Install Node.js (16 or later) and npm "
            "(e.g. apt-get install nodejs npm), then run the tests again.",
            pytrace=False,
        )
    install = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if install.returncode != 0 or not NEWMAN.exists():
        pytest.fail(
            f"`npm ci` failed (exit {install.returncode}):\n{install.stdout}\n{install.stderr}",
            pytrace=False,
        )
    return NEWMAN


@pytest.mark.timeout(420)  # npm ci on a fresh machine, the servers, the run
@pytest.mark.django_db(transaction=True)  # the servers see what the fixtures commit
def test_the_collection_passes_against_the_served_api(parties, sqs_queues, test_env):
    binary = newman()
    # As `make run` sets them: the collection registers a webhook on this machine.
    env = {**test_env, "DESTINATIONS_ALLOW_PRIVATE": "true", "DESTINATIONS_REQUIRE_HTTPS": "false"}
    with served(env) as ports, celery_worker(env):
        variables = {
            "baseUrl": f"http://127.0.0.1:{ports.public}",
            "username": parties.platform_admin.username,
            "password": PASSWORD,
            "tenantId": parties.tenant_a.id,
        }
        args = [str(binary), "run", str(COLLECTION), "--environment", str(ENVIRONMENT)]
        for name, value in variables.items():
            args += ["--env-var", f"{name}={value}"]
        args += ["--color", "off", "--timeout-request", "20000"]
        args += ["--timeout", str(NEWMAN_SECONDS * 1000)]
        started = time.monotonic()
        run = subprocess.run(
            args, cwd=ROOT, capture_output=True, text=True, timeout=NEWMAN_SECONDS + 30
        )
        seconds = time.monotonic() - started
    output = ANSI.sub("", run.stdout + run.stderr)
    print(f"newman ran the collection in {seconds:.1f} s")  # pytest -s shows it
    print(output[output.rfind("┌") :])  # newman's summary table, and any failures
    assert run.returncode == 0, f"newman failed (exit {run.returncode}, {seconds:.1f} s):\n{output}"
    assert "│              assertions │" in output, output  # the summary table was printed


def collection_requests(items: list, trail: tuple[str, ...] = ()) -> list[dict]:
    """Every request of the collection, depth first, with its folder trail."""
    found = []
    for item in items:
        if "item" in item:
            found += collection_requests(item["item"], (*trail, item["name"]))
            continue
        url = item["request"]["url"]
        path = "/" + "/".join(url["path"])
        assert url["raw"].split("?")[0] == "{{baseUrl}}" + path, item["name"]
        found.append(
            {
                "name": " / ".join((*trail, item["name"])),
                "method": item["request"]["method"],
                "path": path,
                "item": item,
            }
        )
    return found


def operation_of(method: str, path: str, operations: set[tuple[str, str]]):
    """The schema operation a request calls: the template whose literal segments
    match the path's, the most literal one first (`/logs/bulk` before
    `/logs/{event_id}`); a template parameter takes any non-empty segment."""
    segments = path.split("/")
    best: tuple[int, str] | None = None
    for op_method, template in operations:
        parts = template.split("/")
        if op_method != method or len(parts) != len(segments):
            continue
        literal = 0
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    break
            elif part == segment:
                literal += 1
            else:
                break
        else:
            if best is None or literal > best[0]:
                best = (literal, template)
    return (method, best[1]) if best else None


def test_the_collection_requests_every_operation_of_the_schema():
    schema = yaml.safe_load(OPENAPI.read_text())
    operations = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    requests = collection_requests(json.loads(COLLECTION.read_text())["item"])
    called = set()
    unknown = []
    for request in requests:
        operation = operation_of(request["method"], request["path"], operations)
        if operation is not None:
            called.add(operation)
        elif (request["method"], request["path"]) not in OUTSIDE_THE_SCHEMA:
            unknown.append(f"{request['name']}: {request['method']} {request['path']}")
    missing = sorted(f"{method} {path}" for method, path in operations - called)
    assert not missing, f"docs/openapi.yaml operations the collection never calls: {missing}"
    assert not unknown, f"collection requests that are no operation of the schema: {unknown}"


def test_every_request_tests_its_answer_and_every_variable_is_in_the_environment():
    collection = json.loads(COLLECTION.read_text())
    untested = [
        request["name"]
        for request in collection_requests(collection["item"])
        if not any(
            event["listen"] == "test" and "pm.test(" in "\n".join(event["script"]["exec"])
            for event in request["item"].get("event", [])
        )
    ]
    assert not untested, f"requests without a test script: {untested}"
    used = set(re.findall(r"\{\{([^{}$]+)\}\}", COLLECTION.read_text()))
    environment = json.loads(ENVIRONMENT.read_text())
    defined = {variable["key"] for variable in environment["values"]}
    assert used <= defined, f"variables missing from the environment: {sorted(used - defined)}"
    assert not [v for v in environment["values"] if v["key"] == "password" and v["value"]], (
        "the committed environment carries no password"
    )
