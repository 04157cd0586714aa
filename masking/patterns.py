"""Tenant value patterns: regular expressions run by RE2, which cannot stall ingest.

A tenant's pattern is untrusted input run against every string of its events.
Python's `re` backtracks (`(a+)+$` takes exponential time), so tenant patterns
run on RE2 (google-re2), whose matching time is linear in the text whatever
the pattern, and which refuses the constructs that need backtracking
(backreferences, lookaround). On top of that, bounds make the cost per event
small and known: at most MAX_PATTERNS patterns, each at most
MAX_PATTERN_LENGTH characters and MAX_PROGRAM_SIZE RE2 instructions, and event
strings are bounded by validation (8 KiB messages, 64 KiB JSON objects).

All patterns of a policy are screened at once with one RE2 Set per string;
only the patterns the Set reports run again to replace their matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import re2

MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 256
MAX_PROGRAM_SIZE = 2000
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def _options(max_mem: int = 1 << 20) -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # errors are answered to the caller, not logged
    options.max_mem = max_mem
    return options


class PatternError(ValueError):
    """Why a tenant pattern is refused; safe to show (it never quotes a value)."""


def compile_pattern(pattern: str) -> re2._Regexp:
    """The compiled pattern, or PatternError saying what is wrong with it."""
    if not isinstance(pattern, str) or not pattern:
        raise PatternError("Must be a non-empty string.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"Must be at most {MAX_PATTERN_LENGTH} characters.")
    try:
        compiled = re2.compile(pattern, _options())
    except re2.error as exc:
        raise PatternError(f"Not a valid RE2 expression: {_reason(exc)}.") from None
    except UnicodeError:  # a lone surrogate: not text RE2 can hold
        raise PatternError("Must be valid Unicode text.") from None
    if compiled._regexp.ProgramSize() > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"Too complex: compiles to more than {MAX_PROGRAM_SIZE} instructions "
            "(reduce counted repetitions such as {1000})."
        )
    if compiled.search("") is not None:
        raise PatternError("Must not match the empty string.")
    return compiled


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    return text.split(":")[0]  # RE2 appends the offending fragment after a colon


@dataclass(frozen=True)
class TenantPatterns:
    """A tenant's compiled value patterns: name -> replacement `[name]`."""

    names: tuple[str, ...]
    regexes: tuple[re2._Regexp, ...]
    screen: object  # a compiled re2 Set of every pattern

    @classmethod
    def build(cls, rules: list[tuple[str, str]]) -> TenantPatterns | None:
        """From (name, pattern) pairs each valid alone; None for no pattern.

        PatternError when the set of them does not compile together (the
        policy's validation builds it, so a saved policy always compiles)."""
        if not rules:
            return None
        screen = re2.Set.SearchSet(_options(max_mem=MAX_PATTERNS << 20))
        try:
            for _, pattern in rules:
                screen.Add(pattern)
            screen.Compile()
        except re2.error:
            raise PatternError("Together, the patterns are too complex for one pass.") from None
        return cls(
            names=tuple(name for name, _ in rules),
            regexes=tuple(compile_pattern(pattern) for _, pattern in rules),
            screen=screen,
        )

    def mask(self, text: str) -> str | None:
        """`text` with every match of a pattern as `[name]`, or None when none matched."""
        hits = self.screen.Match(text)  # type: ignore[attr-defined]
        if not hits:
            return None
        for index in sorted(hits):
            text = self.regexes[index].sub(f"[{self.names[index]}]", text)
        return text
