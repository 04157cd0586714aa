"""Command lines written once (scripts/servers.py), and copies that cannot cross."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import servers

ROOT = Path(__file__).resolve().parents[2]


def test_every_procfile_line_comes_from_servers_py(monkeypatch):
    monkeypatch.setenv("SQS_ENDPOINT_URL", "http://127.0.0.1:9999")
    lines = re.findall(r"^(\w+): (.+)$", (ROOT / "Procfile").read_text(), re.MULTILINE)
    assert {name for name, _ in lines} == {*servers.procs(single=False), *servers.procs(True)}
    for name, command in lines:
        assert command == f"$PY scripts/servers.py exec {name}"
        assert servers.command(name)  # a known name


def test_ports_follow_the_copy_not_honchos_port(monkeypatch):
    # honcho sets PORT per process; run.sh passes the copy's port as AUDITLOG_PORT.
    monkeypatch.setenv("PORT", "5200")
    monkeypatch.setenv("AUDITLOG_PORT", "8100")
    assert "127.0.0.1:8101" in servers.command("web")
    assert "127.0.0.1:8103" in servers.command("export")
    assert servers.command("stream")[servers.command("stream").index("--port") + 1] == "8102"


@pytest.mark.parametrize(
    ("environment", "tls"),
    [({}, 8443), ({"PORT": "8100"}, 8543), ({"PORT": "8100", "TLS_PORT": "9443"}, 9443)],
)
def test_tls_port_is_8443_for_the_default_copy_and_its_own_for_another(
    monkeypatch, tmp_path, environment, tls
):
    for name in ("PORT", "AUDITLOG_PORT", "TLS_PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert servers.this_copy().tls == tls
    conf = servers.nginx_conf(tmp_path, servers.this_copy())
    assert f"listen 127.0.0.1:{tls} ssl;" in conf
    # run.sh takes TLS_PORT from scripts/env.sh: the same rule in shell.
    shell = f"RUN_DIR={tmp_path} source scripts/env.sh && echo $TLS_PORT"
    out = subprocess.run(["bash", "-c", shell], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == str(tls), out.stderr


def test_no_gunicorn_control_socket_and_limits_above_nginx():
    args = servers.gunicorn(8001, 2)
    assert "--no-control-socket" in args  # its default path is shared by every copy
    assert args[args.index("--limit-request-line") + 1] == "8190"
    template = servers.TEMPLATE.read_text()
    assert "large_client_header_buffers 4 6k;" in template  # 6 KiB < 8190


def test_uvicorn_sends_no_server_header():
    assert "--no-server-header" in servers.uvicorn(8002)


def test_the_local_nginx_config_routes_exports_to_their_own_pool(tmp_path):
    conf = servers.nginx_conf(tmp_path, servers.Ports(8100))
    assert "server 127.0.0.1:8103;" in conf and "server 127.0.0.1:8101;" in conf
    assert f"proxy_temp_path {tmp_path}/nginx/proxy;" in conf
    export = conf[conf.index("location = /api/v1/logs/export") :]
    export = export[: export.index("}")]
    assert "proxy_pass http://auditlog_export;" in export
    assert "proxy_buffering on;" in export


def test_moto_is_started_only_when_nothing_answers(monkeypatch):
    monkeypatch.setenv("SQS_ENDPOINT_URL", "https://sqs.us-east-1.amazonaws.com")
    assert "sqs" not in servers.procs(single=False)
    monkeypatch.setenv("SQS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert "sqs" in servers.procs(single=True)


@pytest.mark.parametrize("instance", ["auditlog", "copy2"])
def test_a_second_copy_gets_its_own_database_files_and_prefixes(instance):
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['NAME'], s.RUN_DIR.name, s.CACHES['default']['KEY_PREFIX'], "
        "s.CHANNEL_LAYERS['default']['CONFIG']['prefix'], s.SQS_QUEUE_PREFIX)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_"))}
    for name in ("DATABASE_URL", "RUN_DIR", "SQS_QUEUE_PREFIX", "CACHE_KEY_PREFIX"):
        clean.pop(name, None)
    clean.update(DJANGO_SETTINGS_MODULE="auditlog_project.settings.local")
    clean.update(AUDITLOG_INSTANCE=instance, DJANGO_SECRET_KEY="k" * 8 + os.urandom(24).hex())
    clean.update(JWT_SIGNING_KEY=os.urandom(24).hex())
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    line = result.stdout.strip().splitlines()[-1]
    assert line == f"{instance} {instance} {instance} {instance} {instance}-"


def test_an_instance_name_that_cannot_name_a_database_is_refused():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_"))}
    clean.update(DJANGO_SETTINGS_MODULE="auditlog_project.settings.local", AUDITLOG_INSTANCE="A;B")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stderr.startswith("configuration error: AUDITLOG_INSTANCE")
