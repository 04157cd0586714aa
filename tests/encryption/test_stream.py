"""The live stream and its replay: sealed fields go out in clear, shredded ones as shredded."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from encryption import services
from logs.audit import COMMAND
from tests.encryption.helpers import SECRET, secret_event
from tests.logs.conftest import seed
from tests.logs.test_stream_resume import connect, message

pytestmark = pytest.mark.django_db(transaction=True)


async def event_message(ws, event_id: str) -> dict:
    """The next message carrying this event (access events of the stream itself skipped)."""
    while True:
        received = await message(ws)
        assert received["type"] in ("event", "replay_complete"), received
        if received.get("event", {}).get("id") == event_id:
            return received


def _secret_body() -> dict:
    event = secret_event()
    event.pop("tenant_id")
    event.pop("id")
    return event


def test_live_and_replayed_events_are_in_clear_and_shredded_ones_are_not(parties):
    services.policy_set(
        tenant=parties.tenant_a,
        fields=["before", "after", "metadata", "message", "user_agent"],
        actor="alice",
        origin=COMMAND,
    )
    store = sync_to_async(seed)

    async def scenario():
        first = await connect(parties.a_auditor)
        assert (await message(first))["type"] == "subscribed"
        body = _secret_body()
        [seen] = await store(parties, "tenant-a", [body])
        pushed = await event_message(first, seen)
        assert pushed["event"]["before"] == body["before"]  # live: in clear
        await first.disconnect()

        [missed] = await store(parties, "tenant-a", [_secret_body()])
        again = await connect(parties.a_auditor, f"tenant_id=tenant-a&cursor={pushed['cursor']}")
        assert (await message(again))["type"] == "subscribed"
        replayed = await event_message(again, missed)
        assert replayed["event"]["message"] == body["message"]  # replay: decrypted
        await again.disconnect()

        await sync_to_async(services.keys_shred)(tenant_id="tenant-a", actor="ops")
        third = await connect(parties.a_auditor, f"tenant_id=tenant-a&cursor={pushed['cursor']}")
        assert (await message(third))["type"] == "subscribed"
        replayed = await event_message(third, missed)
        for name in ("before", "after", "metadata", "message", "user_agent"):
            assert replayed["event"][name] == "[shredded]"
        assert SECRET not in str(replayed)
        await third.disconnect()

    async_to_sync(scenario)()
