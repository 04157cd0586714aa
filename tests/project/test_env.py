"""The environment readers behind the settings (the subprocess tests cover start-up)."""

import pytest

from auditlog_project.settings import env


def test_strings_bools_ints_lists(monkeypatch):
    monkeypatch.setenv("X_STR", "value")
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env.env_str("X_STR") == "value"
    assert env.env_str("X_MISSING", "fallback") == "fallback"
    assert env.env_bool("X_BOOL", False) is True
    assert env.env_bool("X_MISSING", True) is True
    assert env.env_int("X_INT", 1) == 42
    assert env.env_int("X_MISSING", 7) == 7
    assert env.env_list("X_LIST", []) == ["a", "b", "c"]
    assert env.env_list("X_MISSING", ["d"]) == ["d"]


@pytest.mark.parametrize(
    ("reader", "value"),
    [
        (lambda: env.env_str("X"), ""),
        (lambda: env.env_bool("X", False), "perhaps"),
        (lambda: env.env_int("X", 1), "1.5"),
        (lambda: env.env_int("X", 1, minimum=5), "4"),
        (lambda: env.env_choice("X", "a", {"a", "b"}), "c"),
        (lambda: env.env_rate("X", "1/m"), "10 per minute"),
        (lambda: env.redis_url("X", "redis://x"), "memcached://x"),
        (lambda: env.http_url("X", ""), "sqs://x"),
    ],
)
def test_bad_values_raise_config_error_naming_the_variable(monkeypatch, reader, value):
    monkeypatch.setenv("X", value)
    with pytest.raises(env.ConfigError, match="^X "):
        reader()


def test_database_url_parts():
    parsed = env.database_from_url(
        "D", "postgres://u:p%40ss@db.internal:6432/audit?sslmode=require"
    )
    assert parsed["USER"] == "u" and parsed["PASSWORD"] == "p@ss"
    assert (parsed["HOST"], parsed["PORT"], parsed["NAME"]) == ("db.internal", "6432", "audit")
    assert parsed["OPTIONS"] == {"sslmode": "require"}
    socket = env.database_from_url("D", "postgres://u@/audit?host=/var/run/postgresql")
    assert socket["HOST"] == "/var/run/postgresql" and socket["OPTIONS"] == {}
