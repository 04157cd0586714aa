"""Shared fixtures reused across the suite (the three-party tenant fixture lives here)."""

import pytest


@pytest.fixture(scope="session")
def sqs_queues() -> dict[str, str]:
    """The real queues on the local SQS endpoint, created once per session."""
    from archival.queues import ensure_queues

    return ensure_queues()
