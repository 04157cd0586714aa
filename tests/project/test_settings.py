"""Configuration from the environment: a bad value stops start-up with one clear line."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "auditlog_project.settings.production",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "JWT_SIGNING_KEY": secrets.token_urlsafe(48),
    "ENCRYPTION_MASTER_KEY": secrets.token_urlsafe(48),
    "INTEGRITY_SIGNING_KEY": secrets.token_urlsafe(48),
    "DATABASE_URL": "postgres://auditlog_app@127.0.0.1:5432/auditlog",
}


def start(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "JWT_", "ENCRYPTION_", "INTEGRITY_"))
    }
    clean.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_good_production_settings_start():
    result = start(GOOD_PRODUCTION)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_SECRET_KEY": "insecure-dev-" + "x" * 60}, "DJANGO_SECRET_KEY"),
        ({"JWT_SIGNING_KEY": "short"}, "JWT_SIGNING_KEY"),
        ({"JWT_SIGNING_KEY": "insecure-dev-" + "x" * 40}, "JWT_SIGNING_KEY"),
        ({"ENCRYPTION_MASTER_KEY": ""}, "ENCRYPTION_MASTER_KEY"),
        ({"ENCRYPTION_MASTER_KEY": "replace-me"}, "ENCRYPTION_MASTER_KEY"),
        ({"ENCRYPTION_KEY_CACHE_SECONDS": "-1"}, "ENCRYPTION_KEY_CACHE_SECONDS"),
        ({"ENCRYPTION_ENABLED": "false"}, "ENCRYPTION_ENABLED"),
        ({"INTEGRITY_SIGNING_KEY": ""}, "INTEGRITY_SIGNING_KEY"),
        ({"INTEGRITY_SIGNING_KEY": "replace-me"}, "INTEGRITY_SIGNING_KEY"),
        ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://x@y:notaport/z"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://x@y:5432/"}, "DATABASE_URL"),
        ({"BACKUP_DATABASE_URL": "mysql://x@y/z"}, "BACKUP_DATABASE_URL"),
        ({"BACKUP_SCHEDULE": "weekly"}, "BACKUP_SCHEDULE"),
        ({"BACKUP_COMPRESSION": "12"}, "BACKUP_COMPRESSION"),
        ({"REDIS_URL": "http://nope"}, "REDIS_URL"),
        ({"SQS_ENDPOINT_URL": "ftp://x"}, "SQS_ENDPOINT_URL"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"DATABASE_CONN_MAX_AGE": "soon"}, "DATABASE_CONN_MAX_AGE"),
        ({"DATABASE_POOL_SIZE": "4"}, "DATABASE_POOL_SIZE"),  # with persistent connections
        ({"ACCESS_CACHE_SECONDS": "-1"}, "ACCESS_CACHE_SECONDS"),
        ({"PIPELINE_ANNOUNCE_INTERVAL": "soon"}, "PIPELINE_ANNOUNCE_INTERVAL"),
        ({"BULK_MAX_EVENTS": "0"}, "BULK_MAX_EVENTS"),
        ({"RETENTION_MIN_DAYS": "100"}, "RETENTION_MIN_DAYS"),
        ({"RETENTION_MAX_DAYS": "40000"}, "RETENTION_MAX_DAYS"),
        ({"RETENTION_DELETE_CHUNK": "0"}, "RETENTION_DELETE_CHUNK"),
        ({"JOBS_STALE_SECONDS": "never"}, "JOBS_STALE_SECONDS"),
        ({"LOGIN_RATE_PER_IP": "lots"}, "LOGIN_RATE_PER_IP"),
        ({"JWT_ALGORITHM": "none"}, "JWT_ALGORITHM"),
        ({"JWT_ALGORITHM": "RS256"}, "JWT_PRIVATE_KEY"),
    ],
)
def test_bad_configuration_stops_with_one_line_naming_the_variable(override, variable):
    result = start({**GOOD_PRODUCTION, **override})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: ")
    assert variable in lines[0]


def test_local_settings_start_with_generated_keys(tmp_path):
    local = "auditlog_project.settings.local"
    result = start({"DJANGO_SETTINGS_MODULE": local, "RUN_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
