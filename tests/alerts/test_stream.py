"""Fired alerts pushed on the tenant's live stream, to the roles that read alerts."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from logs.stream import publish_flush
from tests.alerts.conftest import create_rule, drain, failed_logins, threshold_rule
from tests.logs.conftest import DISCONNECT_SECONDS
from tests.logs.test_stream_consumer import subscribed, token

pytestmark = pytest.mark.django_db(transaction=True)


async def alerts_received(ws: WebsocketCommunicator) -> list[dict]:
    """The alert messages received until the socket falls quiet (events skipped)."""
    found = []
    while not await ws.receive_nothing(timeout=0.5):
        message = json.loads(await ws.receive_from())
        if message["type"] == "alert":
            found.append(message["alert"])
    return found


def test_a_fired_alert_reaches_the_tenants_auditors_and_admins_not_users(parties, alerts_consumer):
    create_rule(parties, "tenant-a", threshold_rule())
    create_rule(parties, "tenant-b", threshold_rule())

    def fire() -> None:
        failed_logins(parties, "tenant-a", 0, 10, 20, 30, 40, user_id="ursula")
        drain(alerts_consumer)
        publish_flush()

    async def scenario():
        auditor = await subscribed("tenant_id=tenant-a", token(parties.a_auditor))
        user = await subscribed("tenant_id=tenant-a", token(parties.a_user))
        other = await subscribed("tenant_id=tenant-b", token(parties.b_admin))
        await sync_to_async(fire)()
        (alert,) = await alerts_received(auditor)
        assert (alert["rule_name"], alert["group_value"], alert["count"]) == (
            "brute force",
            "ursula",
            5,
        )
        assert alert["tenant_id"] == "tenant-a"
        assert await alerts_received(user) == []
        assert await alerts_received(other) == []
        for ws in (auditor, user, other):
            await ws.disconnect(timeout=DISCONNECT_SECONDS)

    async_to_sync(scenario)()
