"""The masking walk: one pass over an event's free-text fields, masking in place.

`Masker.mask_event(values)` masks `message`, `user_agent`, `before`, `after`
and `metadata` of a validated event (logs.validation calls it before the
content hash is taken, so nothing downstream ever sees the original) and
returns the JSON paths it masked (`metadata.password`,
`before.user.cards[0].number`, `message`). Each JSON object is walked once:
a key is judged by its name (cached per masker, since events of a tenant
repeat their keys), a string is scanned only when it is long enough to hold
a secret, a number only when it could be a card number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from . import rules
from .patterns import TenantPatterns

TEXT_FIELDS = ("message", "user_agent")
JSON_FIELDS = ("before", "after", "metadata")
_KEY_CACHE_MAX = 4096
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_CARD_LOW, _CARD_HIGH = 10**12, 10**19
# A JSON path, spelled out only when something under it is masked: a field
# name, or (parent path, key or index).
Path = str | tuple[Any, Any]
# A string that may need masking: (its container, its key, the container's path, value).
Found = tuple[Any, Any, Path, str]


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if _PLAIN_KEY.match(key) else f"{path}[{_quoted(key)}]"


def _quoted(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class KeyRule:
    """Extra key names of a tenant: exact (normalised) or with a leading/trailing `*`."""

    def __init__(self, names: Iterable[str]) -> None:
        self.exact: set[str] = set()
        self.prefixes: list[str] = []
        self.suffixes: list[str] = []
        self.inner: list[str] = []
        for name in names:
            core = rules.normalise_key(name.strip("*"))
            starts, ends = name.startswith("*"), name.endswith("*")
            if starts and ends:
                self.inner.append(core)
            elif starts:
                self.suffixes.append(core)
            elif ends:
                self.prefixes.append(core)
            else:
                self.exact.add(core)

    def matches(self, normalised: str) -> bool:
        return (
            normalised in self.exact
            or normalised.startswith(tuple(self.prefixes))
            or normalised.endswith(tuple(self.suffixes))
            or any(part in normalised for part in self.inner)
        )


class Masker:
    """Compiled masking rules: the built-ins (unless `builtin` is off) and a
    tenant's policy (extra key names, allowed keys, value patterns, e-mails)."""

    def __init__(
        self,
        *,
        builtin: bool = True,
        extra_keys: Iterable[str] = (),
        allow_keys: Iterable[str] = (),
        patterns: TenantPatterns | None = None,
        emails: bool = False,
    ) -> None:
        self.builtin = builtin
        self.extra_keys = KeyRule(extra_keys)
        self.allowed = frozenset(rules.normalise_key(key) for key in allow_keys)
        self.patterns = patterns
        self.emails = emails
        self.min_length = self._min_length()
        self._keys: dict[str, tuple[bool, bool]] = {}

    def _min_length(self) -> int:
        """Strings shorter than this cannot hold anything this masker masks."""
        if self.patterns is not None:
            return 1
        if self.emails:
            return rules.MIN_EMAIL_LENGTH
        return rules.MIN_SECRET_LENGTH if self.builtin else 1 << 30

    @property
    def does_nothing(self) -> bool:
        return not (self.builtin or self.patterns or self.emails or self.extra_keys.exact) and not (
            self.extra_keys.prefixes or self.extra_keys.suffixes or self.extra_keys.inner
        )

    def mask_event(self, values: dict[str, Any]) -> list[str]:
        """Mask the event's free-text fields in place; the paths masked.

        One walk judges every key and collects the strings long enough to hold
        a secret (with where they live); one cheap screen over all of them,
        joined by NUL (which no stored string contains), tells whether any
        needs the per-kind patterns at all.
        """
        masked: list[str] = []
        if self.does_nothing:
            return masked
        found: list[Found] = []
        for name in TEXT_FIELDS:
            text = values.get(name)
            if text is not None and len(text) >= self.min_length:
                found.append((values, name, "", text))
        for name in JSON_FIELDS:
            node = values.get(name)
            if node:
                self._walk(node, name, masked, found)
        if found and self._worth_scanning(found):
            for container, key, parent, text in found:
                replaced = self.mask_text(text)
                if replaced is not None:
                    container[key] = replaced
                    masked.append(path_text((parent, key)) if parent else key)
        return masked

    def _worth_scanning(self, found: list[Found]) -> bool:
        if self.patterns is not None:
            return True
        joined = "\x00".join([text for _, _, _, text in found])
        return (
            (self.emails and "@" in joined)
            or (self.builtin and rules.may_hold_secret(joined))
            or any(rules.aws_secret_like(text) for _, _, _, text in found if len(text) == 40)
        )

    def mask_text(self, text: str) -> str | None:
        """`text` with every secret-looking part replaced, or None when it holds none."""
        changed = None
        if self.builtin and len(text) >= rules.MIN_SECRET_LENGTH:
            changed = rules.mask_builtin_values(text)
        if self.emails:
            changed = rules.mask_emails(changed or text) or changed
        if self.patterns is not None:
            changed = self.patterns.mask(changed or text) or changed
        return changed

    def key_rule(self, key: str) -> tuple[bool, bool]:
        """(names a secret, names a card) for a key, by the built-ins and the tenant."""
        known = self._keys.get(key)
        if known is None:
            normalised = rules.normalise_key(key)
            secret = normalised not in self.allowed and (
                (self.builtin and rules.names_secret(normalised))
                or self.extra_keys.matches(normalised)
            )
            known = (secret, secret and normalised in rules.CARD_KEYS)
            if len(self._keys) >= _KEY_CACHE_MAX:
                self._keys.clear()
            self._keys[key] = known
        return known

    def _walk(self, node: Any, path: Path, masked: list[str], found: list[Found]) -> None:
        """Mask values under secret keys and card-like numbers now; collect strings.

        The hot loop of ingest: types are compared exactly (JSON gives plain
        dict, list, str, int), key verdicts come from the cache, and a path is
        spelled out only for what is masked."""
        min_length, builtin = self.min_length, self.builtin
        known: dict | None = self._keys if type(node) is dict else None
        items: Iterable[tuple[Any, Any]] = node.items() if known is not None else enumerate(node)
        for key, value in items:
            if value is None:
                continue
            if known is not None:
                verdict = known.get(key) or self.key_rule(key)
                if verdict[0]:
                    if value != "":
                        node[key] = self._redacted(value, verdict[1])
                        masked.append(path_text((path, key)))
                    continue
            kind = type(value)
            if kind is str:
                if len(value) >= min_length:
                    found.append((node, key, path, value))
            elif kind is dict or kind is list:
                if value:
                    self._walk(value, (path, key), masked, found)
            elif builtin and kind is int and _CARD_LOW <= value < _CARD_HIGH:
                digits = rules.card_digits(str(value))
                if digits:
                    node[key] = rules.masked_card(digits)
                    masked.append(path_text((path, key)))

    @staticmethod
    def _redacted(value: Any, card: bool) -> str:
        if card and isinstance(value, str | int) and not isinstance(value, bool):
            digits = rules.card_digits(str(value))
            if digits:
                return rules.masked_card(digits)
        return rules.REDACTED


def path_text(path: Path) -> str:
    """`(("metadata", "items"), 0), "token")` -> `metadata.items[0].token`."""
    if isinstance(path, str):
        return path
    parent, key = path
    text = path_text(parent)
    return _key_path(text, key) if isinstance(key, str) else f"{text}[{key}]"
