"""The `make run` topology for real: nginx in front of the web and export pools.

Started from the same command lines and generated nginx config as `make run`
(scripts/servers.py), on free ports. Checks what only the pair can show: the
errors nginx and gunicorn produce themselves are problem+json, no server
version leaks, and stalled export downloads do not take the API down.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path

import pytest
from django.db import connection, transaction
from rest_framework_simplejwt.tokens import AccessToken

from scripts import servers
from tenants.scoping import activate
from tests.processes import served

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def topology(test_env):
    with served(test_env, web_workers=2, export_workers=2) as ports:
        yield ports


def raw(port: int, request: bytes, timeout: float = 10) -> tuple[int, dict, bytes]:
    """Send REQUEST as bytes (nothing checks it on our side); status, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()


def get(port: int, target: str, *headers: str, host: str = "127.0.0.1") -> tuple[int, dict, bytes]:
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}", "Connection: close", *headers]
    return raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode())


def assert_problem(answer: tuple[int, dict, bytes], status: int) -> dict:
    code, headers, body = answer
    assert code == status, body[:300]
    assert headers["content-type"] == PROBLEM, headers
    document = json.loads(body)
    assert document["status"] == status
    assert b"gunicorn" not in body.lower() and b"<html" not in body.lower()
    return document


def test_a_request_line_over_nginx_limit_is_414_problem(topology):
    answer = get(topology.public, "/api/v1/logs?q=" + "a" * 7000)
    assert_problem(answer, 414)


def test_a_request_line_over_gunicorn_default_reaches_the_application(topology):
    # 5000 bytes: over gunicorn's default 4094, under nginx's 6 KiB.
    answer = get(topology.public, "/api/v1/logs?q=" + "a" * 5000)
    assert_problem(answer, 401)


def test_a_huge_header_is_431_problem(topology):
    assert_problem(get(topology.public, "/api/v1/logs", "X-Big: " + "a" * 7000), 431)


def test_many_headers_reach_the_application(topology):
    # 150 fields: over gunicorn's default limit of 100, which answers a text page.
    headers = [f"X-Field-{i}: {i}" for i in range(150)]
    assert_problem(get(topology.public, "/api/v1/logs", *headers), 401)


def test_a_malformed_request_is_400_problem(topology):
    answer = raw(topology.public, b"GET /api/v1/logs HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n")
    assert_problem(answer, 400)


def test_a_foreign_host_is_400_problem_without_internals(topology):
    document = assert_problem(get(topology.public, "/api/v1/auth/me", host="evil.example"), 400)
    assert set(document) == {"type", "title", "status", "detail"}


def test_unknown_paths_are_404_problem(topology):
    assert_problem(get(topology.public, "/no/such/page"), 404)


def test_no_server_version_in_headers(topology, parties):
    for port in (topology.public, topology.stream):
        code, headers, _ = get(port, "/healthz")
        assert code == 200
        assert headers.get("server") in (None, "nginx"), headers
    code, headers, _ = get(topology.web, "/healthz")
    assert headers.get("server") == "gunicorn"  # behind nginx only; no version either


def test_tls_is_served_beside_plain_http(topology):
    import ssl

    cert = ROOT / ".run" / f"test-nginx-{topology.public}" / "tls" / "cert.pem"
    context = ssl.create_default_context(cafile=str(cert))  # verifies name and chain
    conn = http.client.HTTPSConnection("127.0.0.1", topology.tls, timeout=10, context=context)
    conn.request("GET", "/healthz")
    assert conn.getresponse().status == 200


def test_token_answers_through_nginx_are_not_stored(topology, parties):
    from tests.fixtures import PASSWORD

    conn = http.client.HTTPConnection("127.0.0.1", topology.public, timeout=10)
    body = json.dumps({"username": parties.a_admin.username, "password": PASSWORD})
    conn.request("POST", "/api/v1/auth/token", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Cache-Control") == "no-store"


def seed_large_export(tenant: str, rows: int, message_bytes: int) -> None:
    """ROWS events of TENANT with long messages, straight into the table."""
    with transaction.atomic():
        activate(tenant)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO logs_event (tenant_id, id, timestamp, user_id, action,"
                " resource_type, severity, message)"
                " SELECT %s, gen_random_uuid(), now() - g * interval '1 millisecond',"
                " 'ursula', 'login', 'session', 'INFO', repeat('x', %s)"
                " FROM generate_series(1, %s) g",
                [tenant, message_bytes, rows],
            )


def stalled_export(port: int, token: str) -> socket.socket:
    """Start an export download, read its status line, then stop reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    request = (
        "GET /api/v1/logs/export?tenant_id=tenant-a&format=csv HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    sock.sendall(request.encode())
    status = sock.recv(64)
    assert status.startswith(b"HTTP/1.1 200"), status
    return sock


def timed_status(port: int, target: str, token: str | None, deadline: float) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=deadline)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request("GET", target, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def test_stalled_exports_leave_probes_and_other_tenants_answering(topology, parties):
    # 16 MiB of CSV per export: far more than the socket buffers between the
    # export worker and a client that stopped reading.
    seed_large_export("tenant-a", rows=4000, message_bytes=4096)
    a_token = str(AccessToken.for_user(parties.a_admin))
    b_token = str(AccessToken.for_user(parties.b_admin))
    stalled = [stalled_export(topology.public, a_token) for _ in range(8)]
    try:
        time.sleep(1)  # let the export workers get as far as they can
        for _ in range(3):
            assert timed_status(topology.public, "/healthz", None, deadline=5) == 200
            target = "/api/v1/logs?tenant_id=tenant-b"
            assert timed_status(topology.public, target, b_token, deadline=5) == 200
        # The export pool itself is free again: nginx holds the rest on disk.
        export = "/api/v1/logs/export?tenant_id=tenant-b&format=ndjson"
        assert timed_status(topology.public, export, b_token, deadline=10) == 200
    finally:
        for sock in stalled:
            sock.close()


def test_docker_nginx_conf_is_generated_from_the_template():
    assert (ROOT / "docker" / "nginx.conf").read_text() == servers.docker_nginx_conf()
