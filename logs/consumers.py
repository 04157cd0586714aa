"""`WS /api/v1/logs/stream`: committed events pushed live to a tenant's auditors.

Handshake: the access token comes as the `token` query parameter or in a first
message `{"type": "auth", "token": "..."}` (within AUTH_TIMEOUT seconds). The
tenant and role go through the same resolver as every HTTP endpoint.
Close codes: 4401 unauthenticated, 4403 forbidden, 4400 bad filter or request,
4408 too slow (a client that does not read is disconnected, see docs).
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from tenants.permissions import Operation
from tenants.scoping import TenantAccess, TenantNotAccessible, resolve_access

from .stream import BadFilter, StreamFilter, group_name

UNAUTHENTICATED, FORBIDDEN, BAD_REQUEST, TOO_SLOW = 4401, 4403, 4400, 4408
AUTH_TIMEOUT = 10.0
now = time.time  # the clock for token expiry (tests move it)


class Refused(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


@database_sync_to_async
def authenticate(raw_token: str):
    """The user behind an access token, or Refused(4401); same rules as HTTP."""
    auth = JWTAuthentication()
    try:
        token = auth.get_validated_token(raw_token.encode())
        return auth.get_user(token), int(token["exp"])
    except (InvalidToken, TokenError, AuthenticationFailed) as exc:
        raise Refused(UNAUTHENTICATED, "invalid token") from exc


@database_sync_to_async
def authorize(user, tenant_id: str | None) -> TenantAccess:
    try:
        access = resolve_access(user, tenant_id)
    except TenantNotAccessible as exc:
        raise Refused(FORBIDDEN, "tenant not found or not accessible") from exc
    except APIException as exc:  # tenant_id required
        raise Refused(BAD_REQUEST, "tenant_id is required") from exc
    if not access.allows(Operation.READ_EVENTS):
        raise Refused(FORBIDDEN, "role may not read events")
    return access


class EventStreamConsumer(AsyncWebsocketConsumer):
    """One subscriber of one tenant's committed events."""

    group: str | None = None

    async def connect(self) -> None:
        await self.accept()  # custom close codes need an accepted socket
        self.params = {k: v[-1] for k, v in parse_qs(self.scope["query_string"].decode()).items()}
        self.authenticated = asyncio.Event()
        if "token" in self.params:
            await self._subscribe(self.params["token"])
        else:
            self.auth_deadline = asyncio.get_running_loop().call_later(
                AUTH_TIMEOUT, lambda: asyncio.ensure_future(self._expire_handshake())
            )

    async def _expire_handshake(self) -> None:
        if not self.authenticated.is_set():
            await self.close(code=UNAUTHENTICATED)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.authenticated.is_set():
            return  # the stream is one-way once subscribed
        try:
            message = json.loads(text_data or "")
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("type") != "auth":
            await self.close(code=UNAUTHENTICATED)
            return
        self.auth_deadline.cancel()
        await self._subscribe(str(message.get("token", "")))

    async def _subscribe(self, raw_token: str) -> None:
        try:
            user, self.token_exp = await authenticate(raw_token)
            wanted = StreamFilter.from_params(self.params)
            access = await authorize(user, self.params.get("tenant_id"))
            if access.sees_only_own_events:
                wanted = wanted.restricted_to(access.username)
        except Refused as refused:
            await self.close(code=refused.code)
            return
        except BadFilter:
            await self.close(code=BAD_REQUEST)
            return
        except PermissionError:
            await self.close(code=FORBIDDEN)
            return
        self.filter, self.group = wanted, group_name(access.tenant_id)
        # The subscription ends when the access token does, idle or not.
        self.expiry = asyncio.get_running_loop().call_later(
            max(0.0, self.token_exp - now()),
            lambda: asyncio.ensure_future(self.close(code=UNAUTHENTICATED)),
        )
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.authenticated.set()
        await self.send(json.dumps({"type": "subscribed", "tenant_id": access.tenant_id}))

    async def events_batch(self, message: dict) -> None:
        if now() >= self.token_exp:
            await self.close(code=UNAUTHENTICATED)  # the access token expired
            return
        for event in self.filter.select(message["events"]):
            try:
                await asyncio.wait_for(
                    self.send(json.dumps({"type": "event", "event": event})),
                    timeout=settings.STREAM_SEND_TIMEOUT,
                )
            except TimeoutError:
                await self.close(code=TOO_SLOW)
                return

    async def disconnect(self, code: int) -> None:
        if getattr(self, "expiry", None) is not None:
            self.expiry.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
