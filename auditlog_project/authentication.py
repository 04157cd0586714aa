"""How API requests authenticate: bearer tokens, or a browser's session.

- `BearerAuthentication`: SimpleJWT's access tokens, except the stream-only
  ones the dashboard's live tail gets (`scope: stream`), which the WebSocket
  consumer accepts and no HTTP endpoint does.
- `BrowserSessionAuthentication`: the dashboard's Django session, for the
  browsable API and the dashboard's export links. DRF checks CSRF on every
  unsafe request it authenticates; here, in addition, a request the browser
  marks as coming from another site (`Sec-Fetch-Site: cross-site` or
  `same-site`) is not authenticated by the session at all, so a hostile page
  cannot make a logged-in auditor's browser run searches or exports in their
  name (the session cookie is SameSite=Lax, which lets top-level navigations
  from other sites carry it).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from tenants import access_cache

STREAM_SCOPE = "stream"
SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})


class _VerifiedTokens:
    """Access tokens this process verified, by their exact bytes, until they expire.

    Checking a token's signature and claims is pure: the same bytes verify the
    same way until `exp` (LEEWAY is 0). PyJWT's decode cost ~0.4 ms of CPU per
    request (issue 14's profile); a repeat token now costs a dict lookup. What
    can end a token before `exp` (a password change, a deactivation, a deleted
    user) is checked per request after this, on the user (get_user).
    """

    MAX = 10_000

    def __init__(self) -> None:
        self._tokens: OrderedDict[bytes, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, raw: bytes) -> Any | None:
        with self._lock:
            found = self._tokens.get(raw)
            if found is None:
                return None
            if time.time() >= found[0]:
                del self._tokens[raw]
                return None
            self._tokens.move_to_end(raw)
            return found[1]

    def put(self, raw: bytes, token: Any) -> None:
        expires = token.get("exp")
        if not isinstance(expires, int | float):
            return
        with self._lock:
            self._tokens[raw] = (float(expires), token)
            while len(self._tokens) > self.MAX:
                self._tokens.popitem(last=False)


_verified = _VerifiedTokens()


class BearerAuthentication(JWTAuthentication):
    """SimpleJWT's checks (signature, expiry, active user, password claim), with
    the user read from this process's access cache when it is still valid
    (tenants/access_cache.py: one Redis round trip instead of a query). The
    request carries the cache entry (`access_entry`) for the tenant resolution."""

    found: access_cache.Found | None = None
    deferred = False

    def authenticate(self, request):
        # DRF makes one instance per request: what get_user found is this request's.
        # A view that checks the cache's stamps itself (TenantScopedAPIView, in
        # its rate-limit round trip) lets an entry be used before they are checked.
        view = (getattr(request, "parser_context", None) or {}).get("view")
        self.deferred = bool(getattr(view, "checks_access_stamps", False)) and not getattr(
            request, "access_checked_first", False
        )
        authenticated = super().authenticate(request)
        found = self.found if authenticated else None
        request.access_entry = found.entry if found else None
        request.access_stamps = (
            access_cache.stamps(found.user.pk, found.entry)
            if found and found.entry and not found.verified
            else ()
        )
        return authenticated

    def get_validated_token(self, raw_token: bytes):
        token = _verified.get(raw_token)
        if token is None:  # not seen, or expired since: SimpleJWT's full check
            token = super().get_validated_token(raw_token)
            if token.get("scope") == STREAM_SCOPE:
                raise InvalidToken("This token is for the live stream only.")
            _verified.put(raw_token, token)
        return token

    def get_user(self, validated_token):
        try:  # SimpleJWT writes the id as a string
            user_id = int(validated_token.get(api_settings.USER_ID_CLAIM))
        except (TypeError, ValueError):
            return super().get_user(validated_token)
        load = super().get_user  # the database read, with SimpleJWT's own checks
        found = access_cache.lookup(user_id, lambda: load(validated_token), deferred=self.deferred)
        if found.entry is not None:
            try:
                self._check(found.user, validated_token)
            except AuthenticationFailed:
                if found.verified:
                    raise
                # Refused by an unchecked entry: check it first, then decide.
                found = access_cache.lookup(user_id, lambda: load(validated_token))
                if found.entry is not None:
                    self._check(found.user, validated_token)
        self.found = found
        return found.user

    @staticmethod
    def _check(user, validated_token) -> None:
        """SimpleJWT's own checks of `get_user`, by its settings, on a cached user."""
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                "The user's password has been changed.", code="password_changed"
            )


class BrowserSessionAuthentication(SessionAuthentication):
    def authenticate(self, request):
        fetched_from = request.META.get("HTTP_SEC_FETCH_SITE")
        if fetched_from is not None and fetched_from not in SAME_ORIGIN_FETCHES:
            return None
        return super().authenticate(request)


class BearerScheme(SimpleJWTScheme):
    target_class = "auditlog_project.authentication.BearerAuthentication"


class BrowserSessionScheme(SessionScheme):
    target_class = "auditlog_project.authentication.BrowserSessionAuthentication"
