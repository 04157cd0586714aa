"""The built-in masking rules and tenant patterns, one value at a time (no database)."""

from __future__ import annotations

import time

import pytest

from masking import rules
from masking.engine import Masker
from masking.patterns import PatternError, TenantPatterns, compile_pattern

CARD = "4242 4242 4242 4242"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"


def masked(values: dict, masker: Masker | None = None) -> tuple[dict, list[str]]:
    paths = (masker or Masker()).mask_event(values)
    return values, paths


@pytest.mark.parametrize(
    "key",
    [
        "password", "Password", "PASSWORD", "pass-word", "new_password", "password_confirmation",
        "passwd", "pwd", "secret", "client_secret", "token", "access_token", "refresh-token",
        "csrf_token", "api_key", "apiKey", "X-Api-Key", "Authorization", "proxy-authorization",
        "cookie", "Set-Cookie", "private_key", "privateKey", "ssn", "card_number", "cardNumber",
        "cc_number", "PAN", "cvv", "aws_secret_access_key", "SecretAccessKey", "api key",
    ],
)  # fmt: skip
def test_keys_that_name_secrets_are_redacted_at_any_depth(key):
    values, paths = masked({"metadata": {"outer": [{"inner": {key: "s3cr3t-value"}}]}})
    assert values["metadata"]["outer"][0]["inner"][key] == "[redacted]"
    assert len(paths) == 1 and paths[0].startswith("metadata.outer[0].inner")


@pytest.mark.parametrize(
    "key",
    [
        "token_type",
        "tokens_used",
        "passport",
        "company",
        "pan_id",
        "session_id",
        "author",
        "cardholder",
    ],
)
def test_ordinary_keys_are_kept(key):
    values, paths = masked({"before": {key: "kept value here"}})
    assert values["before"][key] == "kept value here"
    assert paths == []


def test_a_card_key_keeps_the_card_shape_and_other_values_are_redacted():
    values, paths = masked({"after": {"card_number": CARD, "pan": "12", "cvv": 123}})
    assert values["after"] == {"card_number": "****4242", "pan": "[redacted]", "cvv": "[redacted]"}
    assert paths == ["after.card_number", "after.pan", "after.cvv"]


def test_null_and_empty_values_under_secret_keys_are_left_alone():
    values, paths = masked({"metadata": {"password": None, "token": ""}})
    assert values["metadata"] == {"password": None, "token": ""} and paths == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"paid with {CARD} today", "paid with ****4242 today"),
        ("card 5555-5555-5555-4444.", "card ****4444."),
        ("amex 378282246310005", "amex ****0005"),
        (f"Authorization: Bearer {JWT}", "Authorization: [bearer]"),
        ("header bearer abcdefghijklmnop1234 sent", "header [bearer] sent"),
        ("Basic dXNlcjpwYXNzd29yZA== was used", "[basic-auth] was used"),
        (f"token {JWT} leaked", "token [jwt] leaked"),
        (f"key {AWS_KEY_ID} in config", "key [aws-key-id] in config"),
        (AWS_SECRET, "[aws-secret]"),
        (f"before {PEM} after", "before [private-key] after"),
        ("-----BEGIN PRIVATE KEY-----\nMIIabc (truncated)", "[private-key]"),
    ],
)
def test_secret_looking_values_are_replaced_keeping_their_shape(text, expected):
    for field in ("message", "user_agent"):
        values, paths = masked({field: text})
        assert values[field] == expected and paths == [field]
    values, paths = masked({"metadata": {"note": {"deep": [text]}}})
    assert values["metadata"]["note"]["deep"] == [expected]
    assert paths == ["metadata.note.deep[0]"]


@pytest.mark.parametrize(
    "text",
    [
        "order 4242424242424241 shipped",  # fails the Luhn check
        "at 1764567890123 ms",  # a millisecond timestamp (starts with 1)
        "commit da39a3ee5e6b4b0d3255bfef95601890afd80709",  # a SHA-1: no upper case
        "session 0f3c7a2b9d8e4f60a1b2c3d4e5f60718",
        "basic plan, bearer of news",
        "short 4242",
    ],
)
def test_ordinary_values_are_kept(text):
    values, paths = masked({"message": text, "metadata": {"v": text}})
    assert values == {"message": text, "metadata": {"v": text}} and paths == []


def test_card_numbers_sent_as_json_numbers_are_masked():
    values, paths = masked({"before": {"n": [5555555555554444, 1764567890123, 42]}})
    assert values["before"]["n"] == ["****4444", 1764567890123, 42]
    assert paths == ["before.n[0]"]


def test_paths_quote_keys_that_are_not_plain_names():
    _, paths = masked({"metadata": {"a.b": {"token": "x"}, 'say "hi"': {"pwd": "y"}}})
    assert paths == ['metadata["a.b"].token', 'metadata["say \\"hi\\""].pwd']


def test_emails_are_masked_only_when_the_tenant_asks():
    text = "mail bob.smith@example.com now"
    assert masked({"message": text})[0]["message"] == text
    values, paths = masked({"message": text}, Masker(emails=True))
    assert values["message"] == "mail ***@example.com now" and paths == ["message"]


def test_tenant_key_names_allow_list_and_patterns():
    masker = Masker(
        extra_keys=["employee_id", "*_pin", "internal*"],
        allow_keys=["csrf-token"],
        patterns=TenantPatterns.build([("employee", r"EMP-[0-9]{6}")]),
    )
    values, paths = masked(
        {
            "message": "by EMP-123456",
            "metadata": {
                "Employee-ID": 7,
                "card_pin": "1",
                "internalNote": "x",
                "csrf_token": "kept",
                "note": "hi",
            },
        },
        masker,
    )
    assert values["message"] == "by [employee]"
    assert values["metadata"] == {
        "Employee-ID": "[redacted]",
        "card_pin": "[redacted]",
        "internalNote": "[redacted]",
        "csrf_token": "kept",
        "note": "hi",
    }
    assert sorted(paths) == sorted(
        ["message", "metadata.Employee-ID", "metadata.card_pin", "metadata.internalNote"]
    )


def test_the_built_in_rules_can_be_switched_off_but_tenant_rules_still_apply():
    off = Masker(builtin=False, extra_keys=["x"])
    values, paths = masked({"message": CARD, "metadata": {"password": "p", "x": 1}}, off)
    assert values == {"message": CARD, "metadata": {"password": "p", "x": "[redacted]"}}
    assert paths == ["metadata.x"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "Not a valid RE2 expression"),
        (r"(?=secret)", "Not a valid RE2 expression"),
        (r"a{1000}{1000}", "Not a valid RE2 expression"),
        ("(", "Not a valid RE2 expression"),
        ("x*", "Must not match the empty string"),
        ("a" * 300, "Must be at most 256 characters"),
        (r"[a-z]{1000}[0-9]{1000}", "Too complex"),
    ],
)
def test_bad_tenant_patterns_are_refused_with_a_reason(pattern, reason):
    with pytest.raises(PatternError) as refused:
        compile_pattern(pattern)
    assert str(refused.value).startswith(reason)


def test_a_pathological_tenant_pattern_cannot_stall_masking():
    # (a+)+$ takes exponential time on a backtracking engine; RE2 is linear.
    masker = Masker(patterns=TenantPatterns.build([("evil", r"(a+)+$"), ("b", r"(x|x)*y")]))
    text = "a" * 8000 + "!"
    started = time.monotonic()
    values, _ = masked({"message": text, "metadata": {"v": "x" * 60000 + "!"}}, masker)
    assert time.monotonic() - started < 5  # a generous safety bound; RE2 is the mechanism
    assert values["message"] == text


@pytest.mark.parametrize(
    "text",
    [f"x {CARD} y", f"Bearer {JWT}", JWT, AWS_KEY_ID, PEM, "basic dXNlcjpwYXNzd29yZA=="],
)
def test_the_cheap_screen_never_misses_what_the_patterns_mask(text):
    assert rules.mask_builtin_values(text) is not None
    assert rules.may_hold_secret("ordinary\x00" + text + "\x00words")


def test_luhn():
    assert rules.luhn_valid("4242424242424242")
    assert not rules.luhn_valid("4242424242424241")
