"""The login throttle of every login form: the API's token endpoint, the admin,
the dashboard's `/login/` and the browsable API's `/api-auth/login/`.

It is an authentication backend (`ThrottledModelBackend`, the only entry of
AUTHENTICATION_BACKENDS), so anything that logs in with a username and a
password goes through it, whatever the form. Per window it allows:

- `LOGIN_ATTEMPTS_PER_IP` attempts per client IP, failed or not (each costs a
  password hash, the most expensive thing a request can ask for);
- `LOGIN_RATE_PER_USERNAME` failures per username and `LOGIN_RATE_PER_IP`
  failures per client IP; once either is used up, even the right password is
  refused until the window ends, so guessing cannot go on.

Usernames are counted in their login form (`login_key`): stripped like both
login forms strip them, NFKC like Django normalises stored usernames, and
casefolded. Every spelling that logs in to one account therefore counts against
the same counter (`"name "` is `name`); spellings that merely look alike count
together, which can only throttle sooner.

Counters are `auditlog_project.ratelimits` fixed windows, with its failure
mode: while Redis is down they are kept per process, so logins go on and
guessing stays bounded (docs/operations.md).
"""

from __future__ import annotations

import unicodedata

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from . import ratelimits

RETRY_AFTER_ATTRIBUTE = "login_retry_after"
USERNAME_FIELD = get_user_model().USERNAME_FIELD


def login_key(username: str) -> str:
    """The counter key of a username: stripped, NFKC, casefolded, at most 150 chars."""
    return unicodedata.normalize("NFKC", username.strip()).casefold()[:150]


def _limits(request, username: str | None, *, failed: bool) -> list[ratelimits.Limit]:
    """The login counters of this attempt; `failed` counts a failure, else reads them."""
    limits = []
    if isinstance(username, str) and username:
        limits.append(
            ratelimits.Limit(
                f"login-user:{login_key(username)}", settings.LOGIN_RATE_PER_USERNAME, failed
            )
        )
    if request is not None:
        ip = ratelimits.client_ip(request)
        limits.append(ratelimits.Limit(f"login-ip:{ip}", settings.LOGIN_RATE_PER_IP, failed))
        if not failed:
            limits.append(ratelimits.Limit(f"login-attempt:{ip}", settings.LOGIN_ATTEMPTS_PER_IP))
    return limits


def retry_after(request) -> int | None:
    """Seconds a refused login must wait, when the throttle refused it (else None)."""
    return getattr(request, RETRY_AFTER_ATTRIBUTE, None)


class ThrottledModelBackend(ModelBackend):
    """Django's ModelBackend behind the login throttle.

    A throttled attempt is refused before the password is checked
    (PermissionDenied stops `authenticate`); the wait is left on the request
    for the view (`retry_after`), and shown to admin users as a message.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(USERNAME_FIELD)
        wait = ratelimits.refusal(_limits(request, username, failed=False))
        if wait is not None:
            _refuse(request, wait)
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            ratelimits.refusal(_limits(request, username, failed=True))
        return user

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)


def _refuse(request, wait: int) -> None:
    if request is not None:
        setattr(request, RETRY_AFTER_ATTRIBUTE, wait)
    if isinstance(request, HttpRequest):  # a form (the admin), not the API
        messages.error(
            request, f"Too many failed logins. Try again in {wait} seconds.", fail_silently=True
        )
    raise PermissionDenied("login throttled")
