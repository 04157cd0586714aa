"""The project's own errors: what went wrong, said in the domain's words.

Services, validation and selectors raise these and know nothing of HTTP;
`auditlog_project.problems.exception_handler` is the one place that turns
each into its problem+json answer (status code, type, body).
"""

from __future__ import annotations

from typing import Any


class Message(str):
    """One error message with a machine-readable code (`required`, `max_length`...)."""

    code: str | None  # None: Django form errors raised without one (kept as sent)

    def __new__(cls, text: str, code: str | None = "invalid") -> Message:
        message = super().__new__(cls, text)
        message.code = code
        return message


class DomainError(Exception):
    """Base of the project's errors; `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Invalid(DomainError):
    """The input breaks a rule (400). `errors` maps each bad field to its
    messages; nested for items (`{"events": [{}, {"ip_address": [...]}]}`)."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__("Invalid input.")
        self.errors = errors


class Forbidden(DomainError):
    """The caller may not do this with this input (403); `errors` names the fields."""

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class Conflict(DomainError):
    """The request contradicts what is stored (409)."""


class TooLarge(DomainError):
    """More than a limit allows (413)."""


class Unavailable(DomainError):
    """Cannot be done now, may be later (503); `retry_after` in seconds, `code`
    names the problem type."""

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after
