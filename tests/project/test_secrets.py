"""No published secret works: keys found in the repository are refused everywhere.

`make run` signs with keys generated per installation (RUN_DIR/secrets.env);
every settings module refuses a key that appears in the repository; and the
server that `make run` starts refuses tokens minted with such a key.
"""

from __future__ import annotations

import io
import os
import re
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest
from django.core.management import call_command

from accounts.models import User
from auditlog_project.settings.keys import installation_secrets, is_published
from tests.processes import free_port, wsgi_server

ROOT = Path(__file__).resolve().parents[2]
KEY_NAMES = ("DJANGO_SECRET_KEY", "JWT_SIGNING_KEY")
# Key values published in this repository's history (no longer in its files).
HISTORICAL_KEYS = (
    "insecure-dev-secret-key-change-me-0123456789",
    "insecure-dev-jwt-key-change-me-0123456789abcdef",
    "build-time-only-collectstatic-value-not-a-secret-never-used",
    "build-time-only-collectstatic-jwt-key-not-a-secret",
)
# NAME=value (shell, env files, docs) and "NAME": "value" / ("NAME", "value") (Python).
ASSIGNMENT = re.compile(
    r"""(?:\b(?:DJANGO_SECRET_KEY|JWT_SIGNING_KEY)=(?P<env>[^\s"'$`(){}]+))"""
    r"""|(?:["'](?:DJANGO_SECRET_KEY|JWT_SIGNING_KEY)["']\s*[:,]\s*["'](?P<py>[^"']+)["'])"""
)


def repository_keys() -> set[str]:
    """Every literal value given to a key variable in the repository's files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    found = set(HISTORICAL_KEYS)
    for name in filter(None, listed):
        path = ROOT / name.decode()
        try:
            text = path.read_text()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        found.update(m.group("env") or m.group("py") for m in ASSIGNMENT.finditer(text))
    return found


def test_the_scan_finds_the_keys_written_in_the_repository():
    keys = repository_keys()
    assert "replace-me" in keys  # docker/.env.example
    assert set(HISTORICAL_KEYS) <= keys


@pytest.mark.parametrize("value", sorted(repository_keys()))
def test_every_key_in_the_repository_counts_as_published(value):
    assert is_published(value)


def test_generated_keys_are_not_published(tmp_path):
    values = installation_secrets(tmp_path / "secrets.env")
    assert not any(is_published(values[name]) for name in KEY_NAMES)


def settings_check(module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "JWT_"))}
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("module", ["local", "production"])
@pytest.mark.parametrize("variable", KEY_NAMES)
def test_settings_refuse_to_load_with_a_published_key(module, variable, tmp_path):
    good = installation_secrets(tmp_path / "secrets.env")
    env = {name: good[name] + "x" * 20 for name in KEY_NAMES}  # 50+ characters
    env["DATABASE_URL"] = "postgres://auditlog_app@127.0.0.1:5432/auditlog"
    assert settings_check(f"auditlog_project.settings.{module}", **env).returncode == 0
    for published in HISTORICAL_KEYS:
        env[variable] = published
        result = settings_check(f"auditlog_project.settings.{module}", **env)
        assert result.returncode != 0
        line = result.stderr.strip()
        assert line.startswith("configuration error: ") and variable in line, line
        assert "\n" not in line


def test_installation_secrets_are_created_once_owner_only(tmp_path):
    path = tmp_path / "run" / "secrets.env"
    first = installation_secrets(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert installation_secrets(path) == first  # the same keys on every start
    assert installation_secrets(tmp_path / "other.env") != first  # per installation


def test_a_secrets_file_others_can_read_is_refused(tmp_path):
    from auditlog_project.settings.env import ConfigError

    path = tmp_path / "secrets.env"
    installation_secrets(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        installation_secrets(path)


def token(key: str, user: User) -> str:
    """An access token with every claim SimpleJWT puts in one, signed with KEY."""
    from django.conf import settings
    from rest_framework_simplejwt.tokens import AccessToken

    claims = dict(AccessToken.for_user(user).payload)
    claims.update(aud=settings.SIMPLE_JWT["AUDIENCE"], iss=settings.SIMPLE_JWT["ISSUER"])
    return jwt.encode(claims, key, algorithm="HS256")


def me(port: int, bearer: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/me", headers={"Authorization": f"Bearer {bearer}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.django_db(transaction=True)
def test_the_make_run_server_refuses_tokens_signed_with_repository_keys(test_env, tmp_path):
    admin = User.objects.create_superuser(username="root", password=None)
    # The environment of `make run`: local settings, no key given, its own RUN_DIR.
    env = {k: v for k, v in test_env.items() if not k.startswith(("DJANGO_", "JWT_"))}
    env.update(DJANGO_SETTINGS_MODULE="auditlog_project.settings.local", RUN_DIR=str(tmp_path))
    port = free_port()
    with wsgi_server(env, port):
        installation_key = installation_secrets(tmp_path / "secrets.env")["JWT_SIGNING_KEY"]
        assert me(port, token(installation_key, admin)) == 200
        for key in sorted(repository_keys()):
            assert me(port, token(key, admin)) == 401, key


def demo() -> str:
    out = io.StringIO()
    call_command("ensure_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_ensure_demo_gives_the_installation_password_once(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    settings.INSTALLATION_SECRETS_FILE = tmp_path / "secrets.env"
    first = demo()
    password = installation_secrets(tmp_path / "secrets.env")["AUDITLOG_ADMIN_PASSWORD"]
    assert f"(shown once; kept in {tmp_path / 'secrets.env'}): {password}" in first
    assert User.objects.get(username="admin").check_password(password)
    assert not User.objects.get(username="admin").check_password("admin-change-me")
    second = demo()
    assert password not in second and "present" in second


@pytest.mark.django_db
def test_ensure_demo_replaces_a_published_admin_password(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    settings.INSTALLATION_SECRETS_FILE = tmp_path / "secrets.env"
    User.objects.create_superuser(username="admin", password="admin-change-me")
    output = demo()
    assert "replaced" in output
    admin = User.objects.get(username="admin")
    assert not admin.check_password("admin-change-me")
    assert "present" in demo()


@pytest.mark.parametrize("server", ["web", "stream"])
def test_the_servers_refuse_to_start_with_a_published_key(server, test_env, tmp_path):
    from scripts import servers

    env = {k: v for k, v in test_env.items() if not k.startswith(("DJANGO_", "JWT_"))}
    env.update(DJANGO_SETTINGS_MODULE="auditlog_project.settings.local", RUN_DIR=str(tmp_path))
    env["JWT_SIGNING_KEY"] = HISTORICAL_KEYS[1]
    port = free_port()
    args = servers.gunicorn(port, 1) if server == "web" else servers.uvicorn(port)
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert lines and "JWT_SIGNING_KEY is a published" in lines[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
