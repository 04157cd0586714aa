"""The cascade of in-process stream failures seen in full runs, reproduced.

channels_redis guards the process's receive channel with a cleanup lock that
each message's cleaner task holds until it has run. Two ways a test's event
loop leaves that lock behind, bound to the dead loop: a receive cancelled while
it waited for the lock (the one found in the suite), and a loop dropped before
a cleaner ran. Later loops then fail with "Lock ... is bound to a different
event loop" (or wait forever). tests/conftest.py resets that state after each
test with tests/channel_layer.py, checked here on private layers.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from django.conf import settings

from logs.stream import StreamChannelLayer
from tests import channel_layer


def private_layer() -> StreamChannelLayer:
    config: dict[str, Any] = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"])
    config["prefix"] = f"reset-test-{uuid.uuid4().hex[:8]}"
    return StreamChannelLayer(**config)


async def round_trip(layer, timeout: float = 2.0) -> dict:
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "probe"})
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def receive_cancelled_while_waiting(layer) -> bool:
    """A receive cancelled while it waits for the cleanup lock that the previous
    message's cleaner holds (a consumer closed at that moment): channels_redis
    counts the waiter in and never out, so the lock, bound to this loop, is
    never dropped. True once that state is reached (it depends on timing)."""
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "probe"})
    await layer.send(channel, {"type": "probe"})
    await layer.receive(channel)  # its cleaner now holds the lock
    waiter = asyncio.ensure_future(layer.receive(channel))
    for _ in range(50):
        if sum(layer.receive_clean_locks.wait_counts.values()) == 2:
            break
        await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    await layer.wait_received()
    return bool(layer.receive_clean_locks.locks)


async def concurrent_receives(layer, timeout: float = 3.0) -> int:
    channels = [await layer.new_channel() for _ in range(4)]
    for channel in channels:
        await layer.send(channel, {"type": "probe"})
    received = asyncio.gather(*(layer.receive(channel) for channel in channels))
    return len(await asyncio.wait_for(received, timeout))


def poisoned_layer() -> StreamChannelLayer:
    for _ in range(20):
        layer = private_layer()
        if asyncio.run(receive_cancelled_while_waiting(layer)):
            return layer
    pytest.fail("the cancelled-waiter state was not reached in 20 tries")


def test_a_receive_cancelled_while_waiting_poisons_later_loops_until_reset():
    """The state found after test_stream_resume's reconnect test in a run of the
    stream files that failed nine later tests on "bound to a different event loop"."""
    layer = poisoned_layer()
    assert channel_layer.leftover_receive_state(layer) == ["a channel cleanup lock"]
    with pytest.raises(RuntimeError, match="bound to a different event loop"):
        for _ in range(5):  # needs two receives to meet on the lock
            asyncio.run(concurrent_receives(layer))

    channel_layer.reset_receive_state(layer)

    assert channel_layer.leftover_receive_state(layer) == []
    for _ in range(5):
        assert asyncio.run(concurrent_receives(layer)) == 4


def dead_loop_receive(layer) -> None:
    """Receive on a loop that is dropped before the receive's cleaner runs."""
    loop = asyncio.new_event_loop()

    async def receive() -> None:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "probe"})
        await layer.receive(channel)

    loop.run_until_complete(receive())
    # Never closed: closing would let the cleaner finish.


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_dead_loops_cleaner_poisons_later_receives_until_reset():
    layer = private_layer()
    dead_loop_receive(layer)
    assert channel_layer.leftover_receive_state(layer) == [
        "a channel cleanup lock",
        "1 cleaner task(s) pending",
    ]
    with pytest.raises(TimeoutError):
        asyncio.run(round_trip(layer, timeout=0.5))
    with pytest.raises(RuntimeError, match="bound to a different event loop"):
        asyncio.run(round_trip(layer))

    channel_layer.reset_receive_state(layer)

    assert channel_layer.leftover_receive_state(layer) == []
    assert asyncio.run(round_trip(layer)) == {"type": "probe"}
    assert asyncio.run(round_trip(layer)) == {"type": "probe"}


def test_a_layer_used_on_one_loop_at_a_time_is_left_clean():
    layer = private_layer()
    for _ in range(3):
        assert asyncio.run(round_trip(layer)) == {"type": "probe"}
    assert channel_layer.leftover_receive_state(layer) == []
