"""The process's channel layer between tests: state a dead event loop leaves behind.

channels_redis keeps per-process receive state on the layer object: a count of
receives in flight with their lock and loop, per-channel buffers, and, after
each message, a cleaner task that holds a per-channel lock (on the process's
one `specific.<prefix>!` channel, which every in-process consumer shares) until
it has removed the message's backup copy from Redis. Production runs one event
loop per process for its whole life, so none of it outlives its loop. Tests
run each in-process stream on its own loop, and two things leave that lock
behind, bound to a dead loop: a receive cancelled while it waited for the lock
(channels_redis 4.3 counts such a waiter in and never out, so the lock is never
dropped; a consumer closed at that moment does it), and a loop that ends
before a cleaner ran (the lock stays held). The next test whose receives meet
on the lock fails with "Lock ... is bound to a different event loop" (or
waits forever, its live pushes timing out), and so does every later one: the
cascade seen in full runs (reproduced in tests/logs/test_channel_layer_reset.py).
"""

from __future__ import annotations

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from channels_redis.core import ChannelLock


def leftover_receive_state(layer) -> list[str]:
    """What of `layer`'s receive state is still held; empty when it is clean."""
    left = []
    if getattr(layer, "receive_count", 0):
        left.append(f"{layer.receive_count} receive(s) in flight")
    locks = getattr(layer, "receive_clean_locks", None)
    if locks is not None and (locks.locks or any(locks.wait_counts.values())):
        # An idle layer has none: a lock is dropped when its last waiter leaves.
        left.append("a channel cleanup lock")
    if getattr(layer, "receive_cleaners", None):
        left.append(f"{len(layer.receive_cleaners)} cleaner task(s) pending")
    return left


def reset_receive_state(layer) -> None:
    """Forget every receive of `layer` (none can be running between tests)."""
    layer.receive_count = 0
    layer.receive_lock = None
    layer.receive_event_loop = None
    layer.receive_buffer.clear()
    layer.receive_clean_locks = ChannelLock()
    layer.receive_cleaners = []


def default_layer():
    """The process's default channel layer if something has created it, else None."""
    return channel_layers.backends.get(DEFAULT_CHANNEL_LAYER)


def replace_default_layer() -> None:
    """Forget the process's default layer: the next use builds a fresh one.

    For a layer whose receive state a test left behind: a receive still
    running somewhere (a consumer that outlived its test, seen in a full run
    under heavy load, the count going negative after a reset) keeps its old
    layer and can no longer touch the state of the next tests' layer.
    """
    old = channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    if old is not None:
        reset_receive_state(old)
