"""`WS /api/v1/logs/stream`: committed events pushed live to a tenant's auditors.

Handshake: the access token comes in a first message
`{"type": "auth", "token": "..."}` (within STREAM_AUTH_TIMEOUT seconds), or as
the subprotocol `auditlog.token.<token>` offered beside `auditlog.v1`. Never in
the URL: URLs end up in access logs, so `?token=` is refused (4400). The tenant
and role go through the same resolver as every HTTP endpoint. A `cursor` (query
or auth message) resumes after a reconnect: missed events are replayed from
PostgreSQL, then the stream goes on live, without duplicates between the two.
Close codes (docs/architecture.md#live-stream): 4401 unauthenticated, 4403
forbidden, 4400 bad filter or request, 4408 too slow, 4429 too many streams,
4503 Redis unavailable (reconnect with the last cursor).
An open stream carries no access of its own: when the user's access changes
(auditlog_project.access), it re-checks token and tenant at once and closes
with 4401 (password changed, account deactivated: log in again) or 4403
(membership removed, tenant deactivated); a role change takes effect in place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from contextlib import suppress
from datetime import datetime
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import ChannelFull
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError
from rest_framework.exceptions import APIException
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

from auditlog_project.ratelimits import (
    CapReached,
    Slot,
    aacquire_slots,
    arefresh_slot,
    arelease_slot,
)
from tenants.permissions import Operation
from tenants.scoping import TenantAccess, TenantNotAccessible, resolve_access

from . import audit
from .pagination import Cursor
from .stream import (
    BadFilter,
    ResumeCursor,
    StreamFilter,
    group_name,
    replay,
    slot_ttl,
    stream_caps,
    user_group,
    wire,
)
from .stream_audit import record_stream_access, stream_origin

logger = logging.getLogger(__name__)

UNAUTHENTICATED, FORBIDDEN, BAD_REQUEST, TOO_SLOW = 4401, 4403, 4400, 4408
TOO_MANY, UNAVAILABLE = 4429, 4503
SUBPROTOCOL = "auditlog.v1"
TOKEN_SUBPROTOCOL = "auditlog.token."  # noqa: S105 - a prefix, not a secret
REDIS_DOWN = (RedisError,)  # redis-py wraps socket errors (refused, reset, timeout) in these
now = time.time  # the clock for token expiry (tests move it)


class Refused(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code


def _authenticate(raw_token: str):
    """The user behind an access token, or Refused(4401); same rules as HTTP."""
    auth = JWTAuthentication()
    try:
        token = auth.get_validated_token(raw_token.encode())
        return auth.get_user(token), int(token["exp"])
    except (InvalidToken, TokenError, AuthenticationFailed) as exc:
        raise Refused(UNAUTHENTICATED, "invalid token") from exc


def _authorize(user, tenant_id: str | None) -> TenantAccess:
    try:
        access = resolve_access(user, tenant_id)
    except TenantNotAccessible as exc:
        raise Refused(FORBIDDEN, "tenant not found or not accessible") from exc
    except APIException as exc:  # tenant_id required
        raise Refused(BAD_REQUEST, "tenant_id is required") from exc
    if not access.allows(Operation.READ_EVENTS):
        raise Refused(FORBIDDEN, "role may not read events")
    return access


authenticate = database_sync_to_async(_authenticate)
authorize = database_sync_to_async(_authorize)


@database_sync_to_async
def recheck(raw_token: str, tenant_id: str) -> TenantAccess:
    """Token and tenant access again, as at the handshake (one connection)."""
    user, _ = _authenticate(raw_token)
    return _authorize(user, tenant_id)


replay_rows = database_sync_to_async(replay)


def _later(delay: float, callback) -> asyncio.TimerHandle:
    """Run the coroutine function `callback` after `delay` seconds."""
    return asyncio.get_running_loop().call_later(
        max(0.0, delay), lambda: asyncio.ensure_future(callback())
    )


class EventStreamConsumer(AsyncWebsocketConsumer):
    """One subscriber of one tenant's committed events."""

    group: str | None = None
    own_group: str | None = None
    replayed: frozenset[str] | set[str] = frozenset()
    slot: Slot | None = None
    timers: list[asyncio.TimerHandle]
    heartbeat: asyncio.Task | None = None
    access: TenantAccess | None = None  # set once STREAM_OPEN is recorded
    own_open = ""  # its id: the subscriber is not sent its own STREAM_OPEN
    delivered = 0
    sees_alerts = False

    async def __call__(self, scope, receive, send) -> None:
        """The consumer's life; a lost Redis ends it with 4503, never a bare 1006."""
        self.timers = []
        try:
            await super().__call__(scope, receive, send)
        except REDIS_DOWN:
            logger.warning("stream: Redis unavailable, subscriber closed with 4503")
            with suppress(Exception):  # the client may be gone already
                await self.base_send({"type": "websocket.close", "code": UNAVAILABLE})
        finally:
            await self._end()

    async def connect(self) -> None:
        offered = self.scope.get("subprotocols") or []
        await self.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        self.params = {k: v[-1] for k, v in parse_qs(self.scope["query_string"].decode()).items()}
        self.authenticated = asyncio.Event()
        token = next(
            (p[len(TOKEN_SUBPROTOCOL) :] for p in offered if p.startswith(TOKEN_SUBPROTOCOL)), None
        )
        if "token" in self.params:  # it is in the access logs by now: refuse the form
            await self.close(code=BAD_REQUEST, reason="token in the URL; send it in a message")
        elif token is not None:
            await self._subscribe(token, self.params.get("cursor"))
        else:
            self.timers.append(_later(settings.STREAM_AUTH_TIMEOUT, self._expire_handshake))

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
        cursor = message.get("cursor", self.params.get("cursor"))
        await self._subscribe(str(message.get("token", "")), str(cursor) if cursor else None)

    async def _subscribe(self, raw_token: str, cursor: str | None) -> None:
        self.authenticated.set()  # one attempt per socket; later messages are ignored
        try:
            user, self.token_exp = await authenticate(raw_token)
            self.raw_token, self.user_id = raw_token, user.pk
            self.requested = StreamFilter.from_params(self.params)
            resume = ResumeCursor.decode(cursor) if cursor else None
            access = await authorize(user, self.params.get("tenant_id"))
            wanted = self._visible(access)
            self.slot = await aacquire_slots(stream_caps(user.pk, access.tenant_id), slot_ttl())
        except Refused as refused:
            await self.close(code=refused.code)
            return
        except BadFilter as bad:
            await self.close(code=BAD_REQUEST, reason=str(bad)[:120])
            return
        except PermissionError:
            await self.close(code=FORBIDDEN)
            return
        except CapReached as full:
            whose = "user" if full.key.startswith("stream:user:") else "tenant"
            await self.close(code=TOO_MANY, reason=f"too many streams for this {whose}")
            return
        await self._start(access, wanted, resume)

    def _visible(self, access: TenantAccess) -> StreamFilter:
        """The requested filter within what the role sees (PermissionError if beyond)."""
        self.sees_alerts = access.allows(Operation.READ_ALERTS)
        if access.sees_only_own_events:
            return self.requested.restricted_to(access.username)
        return self.requested

    async def _start(
        self, access: TenantAccess, wanted: StreamFilter, resume: ResumeCursor | None
    ) -> None:
        """Join the group, then replay: whatever commits in between comes twice, sent once."""
        self.filter, self.tenant_id = wanted, access.tenant_id
        # STREAM_OPEN commits before the subscription starts (no event before it).
        # Its publication is asynchronous and may arrive after joining the group:
        # the subscriber skips its own (live and in a replay).
        self.origin, self.opened_at = stream_origin(self.scope), time.monotonic()
        try:
            self.own_open = await record_stream_access(
                access, audit.AccessAction.STREAM_OPEN, self.origin, wanted, None, {}
            )
        except DatabaseError:
            logger.exception("stream: STREAM_OPEN could not be recorded; subscriber refused")
            await self.close(code=UNAVAILABLE)
            return
        self.access = access
        self.group = group_name(access.tenant_id)
        # The subscription ends when the access token does, idle or not.
        self.timers.append(_later(self.token_exp - now(), self._token_expired))
        self.recheck_due = time.monotonic() + settings.STREAM_ACCESS_RECHECK_SECONDS
        # Notices of changes to this user's access (before the tenant's events:
        # a change committed from now on reaches this stream).
        self.own_group = user_group(self.user_id)
        await self.channel_layer.group_add(self.own_group, self.channel_name)
        await self.channel_layer.group_add(self.group, self.channel_name)
        joined = ResumeCursor.now()  # every later COMMIT reaches us live
        self.cursor = resume or joined
        await self._send_json(
            {
                "type": "subscribed",
                "tenant_id": self.tenant_id,
                "cursor": self.cursor.encode(),
                "heartbeat_seconds": settings.STREAM_HEARTBEAT_SECONDS,
            }
        )
        if resume is not None:
            await self._replay(resume, joined)
        self.heartbeat = asyncio.ensure_future(self._beat())

    async def _replay(self, resume: ResumeCursor, joined: ResumeCursor) -> None:
        """The events the client missed, from PostgreSQL, then `replay_complete`.

        Bounded by STREAM_REPLAY_MAX_AGE and STREAM_REPLAY_MAX_EVENTS: beyond
        them nothing is replayed and the client is told where to read the gap
        (`replay_unavailable`). Replayed events carry the resume cursor itself:
        a client cut off mid-replay resumes from the same place.
        """
        since, limit = resume.replay_from(), settings.STREAM_REPLAY_MAX_EVENTS
        too_old = (joined.position - since).total_seconds() > settings.STREAM_REPLAY_MAX_AGE
        rows = []
        if not too_old:
            rows = await replay_rows(
                tenant_id=self.tenant_id, wanted=self.filter, since=since, limit=limit
            )
        if too_old or len(rows) > limit:
            await self._send_json(self._fallback("too_old" if too_old else "too_many", since))
            rows = []
        skip = str(resume.last_id) if resume.last_id else None
        events = [event for event in wire(rows) if event["id"] not in (skip, self.own_open)]
        self.replayed = {event["id"] for event in events}
        self.replayed_until = time.monotonic() + settings.STREAM_RESUME_OVERLAP
        for event in events:
            message = {"type": "event", "event": event, "cursor": resume.encode(), "replay": True}
            if not await self._send_json(message):
                return
            self.delivered += 1
        self.cursor = joined
        await self._send_json(
            {"type": "replay_complete", "count": len(events), "cursor": joined.encode()}
        )

    def _fallback(self, reason: str, since: datetime) -> dict:
        """Where to read the gap instead: the list API from `since`, oldest first."""
        start = Cursor(since, uuid.UUID(int=0), backwards=False)
        params = {"tenant_id": self.tenant_id, "ordering": "timestamp", "cursor": start.encode()}
        params.update(self.filter.as_params())
        return {"type": "replay_unavailable", "reason": reason, "list_params": params}

    async def events_batch(self, message: dict) -> None:
        if now() >= self.token_exp:
            await self._token_expired()
            return
        for event in self.filter.select(message["events"]):
            if event["id"] in self.replayed or event["id"] == self.own_open:
                continue  # committed between joining the group and the replay; or its own
            self.cursor = ResumeCursor.now(event["id"])
            message = {"type": "event", "event": event, "cursor": self.cursor.encode()}
            if not await self._send_json(message):
                return
            self.delivered += 1

    async def alert_fired(self, message: dict) -> None:
        """A fired alert (alerts/evaluate.py), for the roles that may read alerts."""
        if self.sees_alerts and now() < self.token_exp:
            await self._send_json({"type": "alert", "alert": message["alert"]})

    async def _beat(self) -> None:
        """Ask for a heartbeat through Redis every interval, so a dead Redis is seen."""
        while True:
            await asyncio.sleep(settings.STREAM_HEARTBEAT_SECONDS)
            try:
                await self.channel_layer.send(self.channel_name, {"type": "stream.heartbeat"})
            except ChannelFull:
                pass  # a backlog this full is being sent: the client sees traffic
            except REDIS_DOWN:
                logger.warning("stream: Redis unavailable, subscriber closed with 4503")
                await self.close(code=UNAVAILABLE)
                return

    async def access_changed(self, message: dict) -> None:
        """The user's (or the tenant's) access changed: re-check it now."""
        if message.get("tenant_id") in (None, self.tenant_id):
            await self._recheck_access()

    async def _recheck_access(self) -> bool:
        """Close (4401/4403) if token or tenant access is gone; apply a new role."""
        self.recheck_due = time.monotonic() + settings.STREAM_ACCESS_RECHECK_SECONDS
        try:
            self.filter = self._visible(await recheck(self.raw_token, self.tenant_id))
        except Refused as refused:
            await self.close(code=refused.code, reason="access revoked")
            return False
        except PermissionError:  # now the user role, filtering on others' events
            await self.close(code=FORBIDDEN, reason="access revoked")
            return False
        return True

    async def stream_heartbeat(self, message: dict) -> None:
        """Tell the client it is alive and where to resume from; keep our place.

        Also re-checks access every STREAM_ACCESS_RECHECK_SECONDS: the bound
        on how long a lost access-change notice leaves a stream open.
        """
        if time.monotonic() >= self.recheck_due and not await self._recheck_access():
            return
        if self.slot is not None:
            await arefresh_slot(self.slot, slot_ttl())
        if self.replayed and time.monotonic() > self.replayed_until:
            self.replayed = set()  # live copies of replayed events have long arrived
        self.cursor = ResumeCursor.now()
        await self._send_json({"type": "heartbeat", "cursor": self.cursor.encode()})

    async def _send_json(self, message: dict) -> bool:
        """Send one message; a client that cannot take it in time is closed (4408)."""
        try:
            await asyncio.wait_for(self.send(json.dumps(message)), settings.STREAM_SEND_TIMEOUT)
        except TimeoutError:
            await self.close(code=TOO_SLOW)
            return False
        return True

    async def _token_expired(self) -> None:
        await self.close(code=UNAUTHENTICATED)

    async def disconnect(self, code: int) -> None:
        self.close_code = code
        await self._end()
        for name in ("group", "own_group"):
            group = getattr(self, name)
            if group:
                setattr(self, name, None)
                await self.channel_layer.group_discard(group, self.channel_name)

    async def _end(self) -> None:
        """Stop timers and the heartbeat, free the place; safe to run twice."""
        for timer in self.timers:
            timer.cancel()
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        # Never raises: a place that Redis cannot free now expires on its own.
        await arelease_slot(self.slot)
        await self._record_close()

    async def _record_close(self) -> None:
        """STREAM_CLOSE, once per opened subscription: how long, how many events.
        Lost only if the process dies with the socket open (docs/architecture.md)."""
        access, self.access = self.access, None
        if access is None:
            return
        details = {
            "seconds": round(time.monotonic() - self.opened_at, 3),
            "close_code": getattr(self, "close_code", None),
        }
        try:
            await record_stream_access(
                access,
                audit.AccessAction.STREAM_CLOSE,
                self.origin,
                self.filter,
                self.delivered,
                details,
            )
        except DatabaseError:
            logger.exception("stream: STREAM_CLOSE could not be recorded")
