"""RFC 9457 problem details for every error under /api/.

The one mapping from errors to HTTP answers. The project's domain errors
(`auditlog_project.errors`, raised by services, validation and selectors) and
DRF exceptions go through `exception_handler`; Django-level 404/500 (unknown
paths, crashes outside DRF) go through `not_found` and `server_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response

from . import errors

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://auditlog.dev/problems/"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ContentTooLarge(exceptions.APIException):
    """A request body over MAX_REQUEST_BYTES (the parser): an HTTP-level limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def problem(status_code: int, detail: str, *, code: str | None = None, **extra: Any) -> dict:
    """The problem document for a status; `code` names the problem type."""
    slug = code or TITLES.get(status_code, "error").lower().replace(" ", "-")
    body = {
        "type": TYPE_BASE + slug.replace("_", "-"),
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
    }
    body.update(extra)
    return body


def problem_response(status_code: int, detail: str, **kwargs: Any) -> JsonResponse:
    """A plain Django response carrying a problem document (for non-DRF paths)."""
    return JsonResponse(
        problem(status_code, detail, **kwargs),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def flatten_errors(detail: Any, path: str = "") -> Iterator[dict]:
    """Walk DRF's nested error structure into `{"field", "message", "code"}` rows.

    Paths read like `events[3].ip_address`; errors of the whole object use the
    parent's path (the empty string at the top level).
    """
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                yield from flatten_errors(value, path)
            elif isinstance(key, int):  # DRF's ListField and many=True: {index: errors}
                yield from flatten_errors(value, f"{path}[{key}]")
            else:
                yield from flatten_errors(value, f"{path}.{key}" if path else str(key))
    elif isinstance(detail, list):
        if all(isinstance(item, exceptions.ErrorDetail | str) for item in detail):
            for item in detail:
                yield {
                    "field": path,
                    "message": str(item),
                    "code": getattr(item, "code", None) or "invalid",
                }
        else:
            for index, item in enumerate(detail):
                if item:
                    yield from flatten_errors(item, f"{path}[{index}]")
    else:
        code = getattr(detail, "code", None) or "invalid"  # never null: the schema says string
        yield {"field": path, "message": str(detail), "code": code}


def _validation_problem(detail: Any) -> dict:
    rows = list(flatten_errors(detail))
    fields = sorted({row["field"] for row in rows if row["field"]})
    message = "Invalid input" + (f" in: {', '.join(fields[:10])}" if fields else ".")
    if not fields and rows:
        message = rows[0]["message"]
    return problem(400, message, code="validation-error", errors=rows)


def _domain_problem(exc: errors.DomainError) -> tuple[int, dict]:
    """The status and problem document of a domain error."""
    if isinstance(exc, errors.Invalid):
        return 400, _validation_problem(exc.errors)
    if isinstance(exc, errors.Forbidden):
        rows = list(flatten_errors(exc.errors))
        return 403, problem(403, exc.message, code="forbidden", errors=rows)
    if isinstance(exc, errors.Conflict):
        return 409, problem(409, exc.message, code="conflict")
    if isinstance(exc, errors.TooLarge):
        return 413, problem(413, exc.message, code="too_large")
    if isinstance(exc, errors.Unavailable):
        return 503, problem(503, exc.message, code=exc.code)
    raise TypeError(f"no problem mapping for {type(exc).__name__}")


def _as_api_exception(exc: Exception) -> exceptions.APIException | None:
    if isinstance(exc, exceptions.APIException):
        return exc
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return ContentTooLarge()
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError("The request was malformed.")
    return None


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF exception handler: every error becomes application/problem+json.

    Like DRF's own handler it rolls back the request transaction (ATOMIC_REQUESTS):
    an error response never commits half of a request's writes.
    """
    from rest_framework.views import set_rollback  # views import the parsers, which import us

    set_rollback()
    if isinstance(exc, errors.DomainError):
        code, body = _domain_problem(exc)
        headers = {}
        if isinstance(exc, errors.Unavailable):
            headers["Retry-After"] = str(exc.retry_after)
        return Response(body, status=code, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    api_exc = _as_api_exception(exc)
    if api_exc is None:
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        return Response(
            problem(500, "An unexpected error occurred."),
            status=500,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    if isinstance(api_exc, exceptions.ValidationError):
        body = _validation_problem(api_exc.detail)
    else:
        detail = api_exc.detail
        message = str(detail)
        if isinstance(detail, dict | list):
            message = next(iter(flatten_errors(detail)), {"message": message})["message"]
        codes = api_exc.get_codes()
        body = problem(api_exc.status_code, message, code=codes if isinstance(codes, str) else None)
        if api_exc.status_code == 400:
            body["errors"] = []  # every 400 has the list (the schema's ValidationProblem)
    headers = {}
    if auth_header := getattr(api_exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if (wait := getattr(api_exc, "wait", None)) is not None:
        headers["Retry-After"] = str(max(1, int(wait)))
    return Response(
        body, status=api_exc.status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE
    )


@csrf_exempt  # an unknown path answers 404 for every method, never a CSRF page
def not_found(request, exception=None) -> JsonResponse:
    return problem_response(404, f"No endpoint matches {request.path!r}.", code="not-found")


def server_error(request) -> JsonResponse:
    return problem_response(500, "An unexpected error occurred.")


def bad_request(request, exception=None) -> JsonResponse:
    return problem_response(400, "The request was malformed.")


def csrf_failure(request, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a page for the forms of the dashboard and the admin
    (a form kept open past its session, or posted from elsewhere); problem+json
    for the API, which checks CSRF only where a session authenticates."""
    if not request.path.startswith("/api/"):
        return render(request, "csrf_failure.html", status=403)
    return problem_response(403, "CSRF verification failed.", code="csrf-failed")


def permission_denied(request, exception=None) -> JsonResponse:
    return problem_response(403, "You do not have permission to perform this action.")
