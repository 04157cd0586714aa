"""The dashboard reads through the API, in process.

Every page that shows events calls the API's own view with the page's request
(its session user, its client address) and a query built from the page's form,
and renders what the view answered. The tenant scoping, the role checks, the
rate limits, masking and decryption, the validation of filters and the access
event of each read are therefore the API's, not a copy of them; the access
event says `via: dashboard`. The call runs in the page's transaction
(ATOMIC_REQUESTS), in a savepoint of its own, so a refused call undoes only
itself.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest, QueryDict

VIA = "dashboard"


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def problem(self) -> str:
        """The problem's sentence (problem+json `detail`, field errors included)."""
        if self.ok or not isinstance(self.data, Mapping):
            return ""
        detail = str(self.data.get("detail") or self.data.get("title") or "")
        rows = [row for row in self.data.get("errors") or [] if isinstance(row, Mapping)]
        named = "; ".join(
            f"{row['field']}: {row.get('message', '')}"
            if row.get("field")
            else str(row.get("message"))
            for row in rows
        )
        if named:
            return f"{detail} ({named})" if detail else named
        return detail or f"HTTP {self.status}"


def query(params: Mapping[str, str | Sequence[str] | None]) -> QueryDict:
    """A query string from form values; empty values left out."""
    built = QueryDict(mutable=True)
    for name, value in params.items():
        values = [value] if isinstance(value, str) else list(value or [])
        for one in values:
            if one not in ("", None):
                built.appendlist(name, str(one))
    return built


def _sub_request(request: HttpRequest, method: str, params: QueryDict) -> HttpRequest:
    sub = copy.copy(request)
    sub.method = method
    sub.GET = params
    sub.META = {
        **request.META,
        "REQUEST_METHOD": method,
        "HTTP_ACCEPT": "application/json",
        "QUERY_STRING": params.urlencode(),
    }
    sub.audit_via = VIA  # type: ignore[attr-defined]  # read by logs.audit.Origin
    return sub


def get(request: HttpRequest, view: Callable, params: QueryDict, **kwargs: Any) -> Answer:
    """GET `view` as the page's user with `params`; its status and data (not rendered)."""
    return _call(view, _sub_request(request, "GET", params), kwargs)


def send(
    request: HttpRequest, view: Callable, method: str, body: Any = None, **kwargs: Any
) -> Answer:
    """A change through `view` (POST, PATCH, DELETE) with a JSON `body`, as the
    page's user. The CSRF check is Django's middleware on the page's own POST
    (the copied request carries its verdict, so DRF's check of the session
    passes without checking again); the form's token goes along regardless."""
    sub = _sub_request(request, method, QueryDict())
    raw = b"" if body is None else json.dumps(body).encode()
    sub.META.update(
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH=str(len(raw)),
        HTTP_X_CSRFTOKEN=request.POST.get("csrfmiddlewaretoken", ""),
    )
    for parsed in ("_post", "_files", "_body", "_data"):
        sub.__dict__.pop(parsed, None)
    sub._stream = io.BytesIO(raw)  # type: ignore[attr-defined]
    sub._read_started = False  # type: ignore[attr-defined]
    return _call(view, sub, kwargs)


def _call(view: Callable, sub: HttpRequest, kwargs: dict[str, Any]) -> Answer:
    # In a savepoint: a refusal marks the transaction for rollback (DRF does, as
    # the API's own request would); here it undoes the call only, and the page
    # goes on to render the refusal.
    with transaction.atomic():
        response = view(sub, **kwargs)
    return Answer(response.status_code, getattr(response, "data", None))
