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

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

STREAM_SCOPE = "stream"
SAME_ORIGIN_FETCHES = frozenset({"same-origin", "none"})


class BearerAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token: bytes):
        token = super().get_validated_token(raw_token)
        if token.get("scope") == STREAM_SCOPE:
            raise InvalidToken("This token is for the live stream only.")
        return token


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
