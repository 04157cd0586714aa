"""Typed reads of configuration from the environment.

Every setting that comes from the environment goes through these helpers, so a
bad or missing value stops start-up with one line that names the variable
instead of falling back silently.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_MISSING = object()
DEFAULT_INSTANCE = "auditlog"


class ConfigError(ImproperlyConfigured):
    """A configuration variable is missing or malformed."""


def env_str(name: str, default: object = _MISSING) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is _MISSING:
            raise ConfigError(f"{name} is required but not set")
        return str(default)
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value != value or (minimum is not None and value < minimum):  # NaN or too small
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = env_str(name, default)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def database_from_url(name: str, url: str) -> dict:
    """Django DATABASES entry from a postgres:// URL (socket via ?host=/path)."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql"}:
        raise ConfigError(f"{name} must be a postgres:// URL, got scheme {parts.scheme!r}")
    db_name = parts.path.lstrip("/")
    if not db_name:
        raise ConfigError(f"{name} must name a database, e.g. postgres://user@host:5432/auditlog")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port") from None
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    return {
        "ENGINE": "auditlog_project.postgresql",
        "NAME": unquote(db_name),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(query.pop("host", parts.hostname or "")),
        "PORT": str(port or ""),
        "OPTIONS": query,
    }


def redis_url(name: str, default: str) -> str:
    value = env_str(name, default)
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"{name} must be a redis:// URL, got {value!r}")
    return value


def http_url(name: str, default: str) -> str:
    value = env_str(name, default)
    if value and urlsplit(value).scheme not in {"http", "https"}:
        raise ConfigError(f"{name} must be an http(s):// URL, got {value!r}")
    return value


def env_rate(name: str, default: str) -> str:
    """A rate such as `5/m`, `100/s` or `1000/5m` (count per period)."""
    import re

    value = env_str(name, default)
    if not re.fullmatch(r"\d+/\d*[smhd]", value):
        raise ConfigError(f"{name} must be a rate like 100/m, got {value!r}")
    return value


def instance_name() -> str:
    """AUDITLOG_INSTANCE: the one name that keeps two copies on a machine apart.

    The local database name and the cache, Channels and queue prefixes derive
    from it, so it must be usable in all of them.
    """
    import re

    value = env_str("AUDITLOG_INSTANCE", DEFAULT_INSTANCE)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", value):
        raise ConfigError(
            f"AUDITLOG_INSTANCE must be lowercase letters, digits and _ (a database name), "
            f"got {value!r}"
        )
    return value
