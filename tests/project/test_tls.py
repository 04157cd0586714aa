"""HTTPS and wss:// on TLS_PORT, against the stack `make run` starts.

The nginx topology of tests/processes.py (nginx, the web and export pools, the
stream process) from the command lines and config `make run` uses. Checks what
a client of the TLS port sees: the copy's own certificate (verified as the
only trust anchor, and byte for byte the file `make run` made), HSTS on every
TLS answer and on none over plain HTTP, links built for https, and the live
stream over wss://.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from rest_framework_simplejwt.tokens import AccessToken
from websockets.sync.client import connect

from scripts import servers
from tests.processes import ROOT, served

pytestmark = pytest.mark.django_db(transaction=True)
HSTS = "Strict-Transport-Security"


@pytest.fixture(scope="module")
def stack(test_env):
    with served(test_env, web_workers=1, export_workers=1) as ports:
        yield ports, ROOT / ".run" / f"test-nginx-{ports.public}" / "tls" / "cert.pem"


def trusting(cert: Path) -> ssl.SSLContext:
    """A client context whose only trust anchor is the copy's certificate."""
    return ssl.create_default_context(cafile=str(cert))  # checks chain and name


def https(stack, method: str, path: str, body: dict | None = None, user=None):
    ports, cert = stack
    conn = http.client.HTTPSConnection("127.0.0.1", ports.tls, timeout=10, context=trusting(cert))
    headers = {"Content-Type": "application/json"}
    if user is not None:
        headers["Authorization"] = f"Bearer {AccessToken.for_user(user)}"
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    peer = conn.sock.getpeercert(binary_form=True)  # before nginx may close it
    response = conn.getresponse()
    return response, response.read(), peer


def test_the_tls_port_presents_the_copys_own_certificate(stack):
    _, cert = stack
    response, _, peer = https(stack, "GET", "/healthz")
    assert response.status == 200
    made = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.DER)
    assert peer == made


def test_a_client_that_trusts_only_public_cas_refuses_it(stack):
    ports, _ = stack
    conn = http.client.HTTPSConnection(
        "127.0.0.1", ports.tls, timeout=10, context=ssl.create_default_context()
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        conn.request("GET", "/healthz")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/healthz", 200),  # the web pool
        ("/api/v1/logs", 401),  # a problem from the application
        ("/api/v1/logs?q=" + "a" * 7000, 414),  # a problem nginx answers itself
        ("/api/v1/logs/export", 401),  # the export pool
    ],
)
def test_every_tls_answer_carries_hsts_and_plain_http_none(stack, path, status):
    response, _, _ = https(stack, "GET", path)
    assert response.status == status
    assert response.getheader(HSTS) == f"max-age={servers.hsts_seconds()}"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    plain = http.client.HTTPConnection("127.0.0.1", stack[0].public, timeout=10)
    plain.request("GET", path)
    answer = plain.getresponse()
    assert answer.status == status
    assert answer.getheader(HSTS) is None


def test_links_built_over_tls_say_https(stack, parties):
    """nginx says X-Forwarded-Proto: https; gunicorn trusts it from 127.0.0.1
    (its forwarded_allow_ips), so Django sees a secure request."""
    for message in ("one", "two"):
        event = {"tenant_id": "tenant-a", "user_id": "alice", "action": "login"}
        event |= {"resource_type": "session", "message": message}
        response, body, _ = https(stack, "POST", "/api/v1/logs", event, parties.a_admin)
        assert response.status == 201, body
    response, body, _ = https(
        stack, "GET", "/api/v1/logs?tenant_id=tenant-a&page_size=1", user=parties.a_admin
    )
    assert response.status == 200, body
    assert json.loads(body)["next"].startswith(f"https://127.0.0.1:{stack[0].tls}/api/v1/logs?")


def test_the_stream_works_over_wss(stack, parties):
    ports, cert = stack
    url = f"wss://127.0.0.1:{ports.tls}/api/v1/logs/stream?tenant_id=tenant-a"
    token = str(AccessToken.for_user(parties.a_auditor))
    with connect(url, ssl=trusting(cert), subprotocols=["auditlog.v1"], open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        event = {"tenant_id": "tenant-a", "user_id": "alice", "action": "login"}
        event |= {"resource_type": "session", "message": "over wss"}
        response, body, _ = https(stack, "POST", "/api/v1/logs", event, parties.a_admin)
        assert response.status == 201, body
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = json.loads(ws.recv(timeout=10))
            if message["type"] == "event":
                assert message["event"]["id"] == json.loads(body)["id"]
                return
        pytest.fail("the event never arrived over wss")
