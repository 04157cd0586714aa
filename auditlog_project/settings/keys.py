"""Secret keys: never one that is published, and one set per local installation.

Every settings module refuses, at start-up, a Django secret key or an HS256 JWT
key that has ever been written in this repository (its SHA-256 is listed
below), a placeholder, or a trivially weak value: anyone who can read the
repository could otherwise sign sessions or mint platform-administrator tokens.
`make run` instead uses keys generated once per installation and kept in
`RUN_DIR/secrets.env` (mode 0600, git-ignored), unless the environment gives
them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
from pathlib import Path

from .env import ConfigError

DEV_SECRET_PREFIX = "insecure-dev-"  # noqa: S105 - a marker, not a secret
# SHA-256 of each key value committed to this repository at any time: the old
# development defaults of settings/local.py, the Dockerfile's build-time
# placeholders and docker/.env.example's placeholder. Add any new one here.
PUBLISHED_KEY_SHA256 = frozenset(
    {
        "3a15665315d0bb64b284927a4c63a2363dc6c69616b4c882848b92891ed2671a",
        "5a36af203830c23c4cf90af975ebc1ac3c7ef5af1a623616f3202e6fd70cecc7",
        "588d914c450a8044b589b0534a48676e53bf1985314ce04b838b76feb036f574",
        "d510577e3ffc371688cb3185cfeea174bf9146abd9d000e76642df521034f293",
        "1df4b07d05b9b3b1115b4b6b22af319a2f99564a2fa2573a34896063c7513c10",
    }
)
# A generated key of 32+ characters has far more; "x" * 64 has one.
MIN_DISTINCT_CHARACTERS = 12
GENERATE_HINT = "generate one: python3 -c 'import secrets; print(secrets.token_urlsafe(64))'"
# What `make run` keeps per installation; the admin password is read by
# `manage.py ensure_demo` only.
INSTALLATION_SECRETS = (
    "DJANGO_SECRET_KEY",
    "JWT_SIGNING_KEY",
    "AUDITLOG_ADMIN_PASSWORD",
    "ENCRYPTION_MASTER_KEY",
    "INTEGRITY_SIGNING_KEY",
)
# Secrets added after the first installations: generated into an existing file
# that lacks them (nothing was encrypted before they existed).
ADDED_LATER = ("ENCRYPTION_MASTER_KEY", "INTEGRITY_SIGNING_KEY")


def is_published(value: str) -> bool:
    """True for a key anyone can know: listed, a development marker, or trivial."""
    digest = hashlib.sha256(value.encode()).hexdigest()
    return (
        digest in PUBLISHED_KEY_SHA256
        or value.startswith(DEV_SECRET_PREFIX)
        or len(set(value)) < MIN_DISTINCT_CHARACTERS
    )


def refuse_published(name: str, value: str) -> None:
    """Stop start-up when the key in NAME is public."""
    if is_published(value):
        raise ConfigError(
            f"{name} is a published, placeholder or trivial key (it appears in the "
            f"repository or is guessable); {GENERATE_HINT}"
        )


def installation_secrets(path: Path) -> dict[str, str]:
    """The per-installation secrets in PATH, created on first use.

    Created once, atomically (concurrent first starts agree on one file), with
    mode 0600; a file that others may read is refused rather than used.
    """
    if not path.exists():
        _create(path)
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} must be readable by its owner only: chmod 600 {path}")
    values = _read(path)
    if any(not values.get(name) for name in ADDED_LATER):
        values = _add_missing(path)
    missing = [name for name in INSTALLATION_SECRETS if not values.get(name)]
    if missing:
        raise ConfigError(f"{path} lacks {', '.join(missing)}; delete the file to regenerate it")
    return values


def _read(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def _add_missing(path: Path) -> dict[str, str]:
    """Append the ADDED_LATER secrets the file lacks, under a lock (concurrent starts agree)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        values = _read(path)
        for name in ADDED_LATER:
            if not values.get(name):
                values[name] = secrets.token_urlsafe(48)
                handle.write(f"{name}={values[name]}\n")
    return values


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "# Generated once for this installation by auditlog_project/settings/keys.py.\n"
    body += "".join(f"{name}={secrets.token_urlsafe(48)}\n" for name in INSTALLATION_SECRETS)
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(body)
    try:
        os.link(temp, path)  # fails if another process created it first: keep theirs
    except FileExistsError:
        pass
    finally:
        temp.unlink()
