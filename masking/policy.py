"""A tenant's masking rules: their limits, and how they compile into a Masker.

The limits keep the cost of a policy per event small and known: at most
MAX_KEY_NAMES extra key names and MAX_KEY_NAMES allowed keys, each at most
MAX_KEY_LENGTH characters, and the pattern limits of masking.patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from .engine import Masker
from .patterns import TenantPatterns

MAX_KEY_NAMES = 100
MAX_KEY_LENGTH = 100


@dataclass(frozen=True)
class PolicyRules:
    """The tenant-editable part of a policy, validated (masking/api/serializers.py)."""

    key_names: tuple[str, ...] = ()
    value_patterns: tuple[tuple[str, str], ...] = ()  # (name, pattern)
    allow_keys: tuple[str, ...] = ()
    mask_emails: bool = False

    def as_json(self) -> dict:
        return {
            "key_names": list(self.key_names),
            "value_patterns": [{"name": n, "pattern": p} for n, p in self.value_patterns],
            "allow_keys": list(self.allow_keys),
            "mask_emails": self.mask_emails,
        }

    @classmethod
    def from_json(cls, data: dict) -> PolicyRules:
        return cls(
            key_names=tuple(data.get("key_names") or ()),
            value_patterns=tuple(
                (item["name"], item["pattern"]) for item in data.get("value_patterns") or ()
            ),
            allow_keys=tuple(data.get("allow_keys") or ()),
            mask_emails=bool(data.get("mask_emails")),
        )


def compile_masker(rules: PolicyRules | None) -> Masker:
    """The Masker of the built-in rules (unless MASKING_ENABLED is off) and `rules`."""
    builtin = settings.MASKING_ENABLED
    if rules is None:
        return Masker(builtin=builtin)
    return Masker(
        builtin=builtin,
        extra_keys=rules.key_names,
        allow_keys=rules.allow_keys,
        patterns=TenantPatterns.build(list(rules.value_patterns)),
        emails=rules.mask_emails,
    )
