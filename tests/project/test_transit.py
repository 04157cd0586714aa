"""The production forms of TLS from the application to its dependencies.

docs/operations.md#encryption-in-transit: PostgreSQL with `sslmode=verify-full`
(and the CA in `sslrootcert`), Redis with `rediss://`, SQS, S3 and KMS over
https endpoints. The settings accept each form (checked in a process of its
own with the production settings), and where a server with TLS is cheap to
start here (PostgreSQL, redis-server), a real connection through the
project's own code paths is made over TLS and refused with the wrong CA.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from scripts import servers
from tests.processes import free_port, private_postgres
from tests.project.test_settings import GOOD_PRODUCTION, ROOT

PROBE = """
import json
from django.conf import settings as s
from redis import ConnectionPool
from auditlog_project import aws
sqs = aws.sqs_client()
print(json.dumps({
    "db": s.DATABASES["default"]["OPTIONS"],
    "cache": ConnectionPool.from_url(s.CACHES["default"]["LOCATION"]).connection_class.__name__,
    "layer": s.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"],
    "broker": s.CELERY_BROKER_URL,
    "broker_secure": s.CELERY_BROKER_TRANSPORT_OPTIONS["is_secure"],
    "sqs_endpoint": sqs.meta.endpoint_url,
    "sqs_key": sqs._request_signer._credentials.access_key,
}))
"""


def probe(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "SQS_ENDPOINT_URL", "CELERY_BROKER_URL"):
        clean.pop(name, None)
    clean.update(AWS_ACCESS_KEY_ID="AKIAROLEFROMTHEENV", AWS_SECRET_ACCESS_KEY="from-the-env")
    result = subprocess.run(
        [ROOT / ".venv" / "bin" / "python", "manage.py", "shell", "-c", PROBE],
        cwd=ROOT,
        env={**clean, **GOOD_PRODUCTION, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_accept_every_tls_form():
    seen = probe(
        {
            "DATABASE_URL": "postgres://auditlog_app@db.internal:5432/auditlog"
            "?sslmode=verify-full&sslrootcert=/etc/ssl/rds-global-bundle.pem",
            "REDIS_URL": "rediss://cache.internal:6379/0?ssl_cert_reqs=required",
            "SQS_ENDPOINT_URL": "https://sqs.eu-west-1.amazonaws.com",
        }
    )
    assert seen["db"] == {"sslmode": "verify-full", "sslrootcert": "/etc/ssl/rds-global-bundle.pem"}
    assert seen["cache"] == "SSLConnection"
    assert seen["layer"].startswith("rediss://")
    # Over https the credentials are the role's, never the local stand-in's.
    assert seen["broker"] == "sqs://sqs.eu-west-1.amazonaws.com"
    assert seen["broker_secure"] is True
    assert seen["sqs_endpoint"] == "https://sqs.eu-west-1.amazonaws.com"
    assert seen["sqs_key"] == "AKIAROLEFROMTHEENV"


def test_without_an_endpoint_sqs_is_aws_over_https():
    seen = probe({"SQS_ENDPOINT_URL": ""})
    assert seen["broker"] == "sqs://"
    assert seen["broker_secure"] is True
    assert seen["sqs_endpoint"].startswith("https://sqs.")


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (as `make run` makes)."""
    return servers.self_signed_certificate(folder, "127.0.0.1")


def _give_to_postgres(*paths: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)


def test_postgresql_with_verify_full_connects_over_tls_and_refuses_a_wrong_ca(tmp_path):
    from auditlog_project.postgresql.base import DatabaseWrapper
    from auditlog_project.settings.env import database_from_url

    root = Path(tempfile.mkdtemp(prefix="auditlog-pg-tls-"))
    cert, key = _certificate(root / "tls")
    _give_to_postgres(root / "tls", cert, key)
    other, _ = _certificate(tmp_path / "other")
    settings = {"ssl": "on", "ssl_cert_file": str(cert), "ssl_key_file": str(key)}
    try:
        with private_postgres(settings, root) as server:
            url = server.url("postgres", "postgres") + f"?sslmode=verify-full&sslrootcert={cert}"
            wrapper = DatabaseWrapper(database_from_url("DATABASE_URL", url) | {"TIME_ZONE": None})
            with wrapper.get_new_connection(wrapper.get_connection_params()) as conn:
                row = conn.execute(
                    "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
                ).fetchone()
            assert row[0] is True and row[1].startswith("TLSv1.")
            import psycopg

            wrong = dict(wrapper.get_connection_params(), sslrootcert=str(other))
            with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
                psycopg.connect(**wrong)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def tls_redis(tmp_path):
    cert, key = _certificate(tmp_path / "tls")
    port = free_port()
    args = ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"]
    args += ["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    args += ["--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no"]
    args += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"rediss://127.0.0.1:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={cert}"
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_redis_over_rediss_serves_the_cache_and_the_channel_layer(tls_redis):
    import asyncio

    from django.core.cache.backends.redis import RedisCache

    from logs.stream import StreamChannelLayer

    url, folder = tls_redis
    cache = RedisCache(url, {"KEY_PREFIX": "tls-test"})
    cache.set("k", "over tls", 30)
    assert cache.get("k") == "over tls"

    async def round_trip() -> dict:
        layer = StreamChannelLayer(hosts=[{"address": url}], poll_seconds=1, prefix="tls-test")
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "ping", "over": "tls"})
        message = await layer.receive(channel)
        await layer.flush()
        return message

    assert asyncio.run(round_trip())["over"] == "tls"
    other, _ = _certificate(folder / "other")
    wrong = url.replace(str(folder / "tls" / "cert.pem"), str(other))
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        redis.Redis.from_url(wrong).ping()
