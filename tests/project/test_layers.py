"""The house rules that keep layers apart: domain code knows no HTTP, the wire
format is imported downward, and one handler maps domain errors to problem+json."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rest_framework import status

from auditlog_project import errors, problems

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_MODULES = [
    "logs/services.py",
    "logs/audit.py",
    "logs/validation/__init__.py",
    "logs/validation/checks.py",
    "logs/selectors.py",
    "logs/pagination.py",
    "logs/export.py",
    "logs/wire.py",
    "logs/stream.py",
    "auditlog_project/errors.py",
]


def imported_modules(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = "." * node.level + (node.module or "")
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", DOMAIN_MODULES)
def test_domain_modules_raise_no_http_errors(path):
    http = {
        name
        for name in imported_modules(path)
        if name.startswith(("rest_framework", "django.http"))
    }
    assert not http, f"{path} imports {sorted(http)}"


@pytest.mark.parametrize("path", ["logs/stream.py", "logs/export.py", "logs/wire.py"])
def test_the_stream_and_the_export_do_not_reach_up_into_the_api(path):
    upward = {
        name for name in imported_modules(path) if ".api" in name or name.startswith("logs.api")
    }
    assert not upward, f"{path} imports {sorted(upward)}"


@pytest.mark.parametrize(
    ("error", "code", "body"),
    [
        (
            errors.Invalid({"events": [{}, {"ip_address": [errors.Message("Bad.", "invalid")]}]}),
            status.HTTP_400_BAD_REQUEST,
            {
                "type": "https://auditlog.dev/problems/validation-error",
                "detail": "Invalid input in: events[1].ip_address",
                "errors": [{"field": "events[1].ip_address", "message": "Bad.", "code": "invalid"}],
            },
        ),
        (
            errors.Conflict("Stored with other content: x"),
            status.HTTP_409_CONFLICT,
            {
                "type": "https://auditlog.dev/problems/conflict",
                "detail": "Stored with other content: x",
            },
        ),
        (
            errors.TooLarge("At most 3."),
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            {"type": "https://auditlog.dev/problems/too-large", "detail": "At most 3."},
        ),
        (
            errors.Forbidden("Not yours.", {"user_id": [errors.Message("Not yours.", "not_own")]}),
            status.HTTP_403_FORBIDDEN,
            {
                "type": "https://auditlog.dev/problems/forbidden",
                "detail": "Not yours.",
                "errors": [{"field": "user_id", "message": "Not yours.", "code": "not_own"}],
            },
        ),
    ],
)
def test_each_domain_error_has_one_problem_answer(error, code, body):
    response = problems.exception_handler(error, {"view": None})
    assert response.status_code == code
    assert response.content_type == problems.PROBLEM_CONTENT_TYPE
    assert response.data["status"] == code
    assert body.items() <= response.data.items()
