"""Shapes of the masking-policy endpoints; every rule is checked here, by name."""

from __future__ import annotations

from rest_framework import serializers

from auditlog_project.validation import StrictSerializerMixin

from .. import rules
from ..patterns import (
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    NAME_RE,
    PatternError,
    TenantPatterns,
    compile_pattern,
)
from ..policy import MAX_KEY_LENGTH, MAX_KEY_NAMES, PolicyRules


def _key_name(value: str) -> None:
    core = value.strip("*")
    if "*" in core:
        raise serializers.ValidationError(
            "`*` may only start or end a key name (e.g. `*_pin`, `internal_*`).", "bad_key"
        )
    if not rules.normalise_key(core):
        raise serializers.ValidationError(
            "Must name a key (letters or digits, not only '-', '_', '.', spaces).", "bad_key"
        )


class KeyNameField(serializers.CharField):
    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=MAX_KEY_LENGTH, trim_whitespace=False, **kwargs)
        self.validators.append(_key_name)


class ValuePatternSerializer(StrictSerializerMixin, serializers.Serializer):
    name = serializers.RegexField(
        NAME_RE.pattern,
        help_text="Lowercase slug; the masked text reads `[name]`.",
        error_messages={
            "invalid": "Must be a lowercase slug of 1-32 characters: ^[a-z0-9][a-z0-9-]{0,31}$."
        },
    )
    pattern = serializers.CharField(
        max_length=MAX_PATTERN_LENGTH,
        trim_whitespace=False,
        help_text="RE2 syntax (no backreferences or lookaround); must not match the empty string.",
    )

    def validate_pattern(self, value: str) -> str:
        try:
            compile_pattern(value)
        except PatternError as exc:
            raise serializers.ValidationError(str(exc), "bad_pattern") from None
        return value


class PolicySerializer(StrictSerializerMixin, serializers.Serializer):
    """A tenant's own rules, on top of the built-in ones (PUT replaces them all)."""

    key_names = serializers.ListField(
        child=KeyNameField(),
        max_length=MAX_KEY_NAMES,
        default=list,
        help_text="Extra key names to mask at any depth of before/after/metadata; compared "
        "like the built-ins (case, '-', '_', '.', spaces ignored); `*` at the start or end "
        "matches any suffix or prefix.",
    )
    value_patterns = ValuePatternSerializer(  # type: ignore[call-arg]
        many=True,
        max_length=MAX_PATTERNS,
        default=list,
        help_text="Values to mask wherever they appear (message, user_agent, before, after, "
        "metadata), each replaced by `[name]`.",
    )
    allow_keys = serializers.ListField(
        child=KeyNameField(),
        max_length=MAX_KEY_NAMES,
        default=list,
        help_text="Keys the key-name rules leave alone (the value rules still apply).",
    )
    mask_emails = serializers.BooleanField(
        default=False, help_text="Mask e-mail addresses as `***@domain`."
    )

    def validate_value_patterns(self, value: list[dict]) -> list[dict]:
        names = [item["name"] for item in value]
        if len(set(names)) != len(names):
            raise serializers.ValidationError("Pattern names must be unique.", "duplicate")
        try:
            TenantPatterns.build([(item["name"], item["pattern"]) for item in value])
        except PatternError as exc:
            raise serializers.ValidationError(str(exc), "bad_pattern") from None
        return value

    def rules(self) -> PolicyRules:
        return PolicyRules.from_json(self.validated_data)


class BuiltinRulesSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    key_names = serializers.ListField(child=serializers.CharField())
    key_suffixes = serializers.ListField(child=serializers.CharField())
    value_kinds = serializers.ListField(child=serializers.CharField())


class PolicyOutSerializer(PolicySerializer):
    tenant_id = serializers.CharField()
    version = serializers.IntegerField(help_text="Bumped by every change.")
    updated_at = serializers.DateTimeField(allow_null=True)
    updated_by = serializers.CharField(allow_null=True)
    builtin = BuiltinRulesSerializer(help_text="The built-in rules, always applied first.")


class DryRunSerializer(StrictSerializerMixin, serializers.Serializer):
    event = serializers.JSONField(help_text="A sample event, as POST /api/v1/logs takes it.")
    policy = PolicySerializer(
        required=False, help_text="A proposed policy; the saved one when omitted."
    )


class DryRunResultSerializer(serializers.Serializer):
    event = serializers.DictField(help_text="The sample's fields as they would be stored.")
    masked = serializers.ListField(child=serializers.CharField())
