"""Helpers for tests of the rate limits: windows that do not end mid-test."""

from __future__ import annotations

import time

from django.core.signals import request_finished
from django.db import close_old_connections


def window(count: int, margin: int = 300) -> str:
    """A rate of `count` per a fixed window that has at least `margin` seconds left.

    Windows are aligned to the epoch; periods of slightly different lengths end
    at different times, so one of them always has the margin left. A test using
    it never sees its counters reset by a window boundary.
    """
    now = time.time()
    for period in (3600, 3300, 3000, 2700):
        if period - now % period > margin:
            return f"{count}/{period}s"
    raise AssertionError("unreachable: the candidate windows end at different times")


def assert_throttled(response, max_wait: int = 3600) -> int:
    """429 as problem+json with a Retry-After in seconds; returns the wait."""
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= max_wait
    return wait


def hang_up(response) -> None:
    """The client goes away before reading: the server closes the response unread.

    Like Django's test client, keep the test's database connection open.
    """
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
