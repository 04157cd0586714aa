"""Shared fixtures reused across the suite.

`parties` is the three-party fixture every endpoint's cross-tenant test uses:
tenant A with an admin, an auditor and a user; tenant B with a user and an
admin; and a platform administrator. Clients carry real SimpleJWT tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import User
from tenants.models import Membership, Tenant

PASSWORD = "correct-horse-battery-staple"


def make_user(username: str, *, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(username=username, password=PASSWORD)
    return User.objects.create_user(username=username, password=PASSWORD)


def password_login(username: str, password: str = PASSWORD, ip: str = "10.1.0.1"):
    """POST /api/v1/auth/token from client address `ip`, as a fresh client."""
    return APIClient().post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


def bearer_client(user: User | None) -> APIClient:
    """An API client authenticated with a real access token for `user` (None: anonymous)."""
    client = APIClient()
    if user is not None:
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@dataclass
class Parties:
    tenant_a: Tenant
    tenant_b: Tenant
    platform_admin: User
    a_admin: User
    a_auditor: User
    a_user: User
    b_admin: User
    b_user: User
    outsider: User  # authenticated, member of nothing

    def client(self, name: str | None) -> APIClient:
        """`parties.client("a_admin")`; None is anonymous."""
        return bearer_client(getattr(self, name) if name else None)


@pytest.fixture
def parties(db) -> Parties:
    tenant_a = Tenant.objects.create(id="tenant-a", name="Tenant A")
    tenant_b = Tenant.objects.create(id="tenant-b", name="Tenant B")
    users = {
        "platform_admin": make_user("root", superuser=True),
        "a_admin": make_user("alice"),
        "a_auditor": make_user("arthur"),
        "a_user": make_user("ursula"),
        "b_admin": make_user("bianca"),
        "b_user": make_user("bob"),
        "outsider": make_user("oscar"),
    }
    for key, tenant, role in (
        ("a_admin", tenant_a, "admin"),
        ("a_auditor", tenant_a, "auditor"),
        ("a_user", tenant_a, "user"),
        ("b_admin", tenant_b, "admin"),
        ("b_user", tenant_b, "user"),
    ):
        Membership.objects.create(user=users[key], tenant=tenant, role=role)
    return Parties(tenant_a=tenant_a, tenant_b=tenant_b, **users)


@pytest.fixture(scope="session")
def _created_queues() -> dict[str, str]:
    from auditlog_project.queues import ensure_queues

    return ensure_queues()


@pytest.fixture
def sqs_queues(_created_queues) -> dict[str, str]:
    """The real queues on the local SQS endpoint (created once per session),
    emptied before each test that asks for them.

    Earlier tests leave messages behind (announcements, cleanup jobs and
    deliveries that the fuzzing and the API tests queue, duplicates sent on
    purpose); a worker started by this test would first work through all of
    them, and once kept a 3-second test waiting past its 60-90 s deadline.
    Messages held in flight or delayed cannot be taken; they come back later.
    """
    from auditlog_project.queues import sqs_client

    client = sqs_client()
    for url in _created_queues.values():
        waiting = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        if int(waiting) > 100 and _purged(client, url):
            continue  # thousands of announcements: one call, not one per ten messages
        empty_queue(url)
    return _created_queues


def _purged(client, url: str) -> bool:
    """PurgeQueue, which SQS allows once a minute per queue; False when refused."""
    try:
        client.purge_queue(QueueUrl=url)
    except client.exceptions.PurgeQueueInProgress:
        return False
    return True


def empty_queue(url: str | None = None) -> int:
    """Receive and delete every message waiting on the queue at `url` (the main
    queue by default); how many. PurgeQueue would be once a minute only."""
    from auditlog_project.queues import queue_name, sqs_client

    client = sqs_client()
    if url is None:
        url = client.get_queue_url(QueueName=queue_name(settings.SQS_DEFAULT_QUEUE))["QueueUrl"]
    dropped = 0
    while True:
        found = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = found.get("Messages", [])
        if not messages:
            return dropped
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
        ]
        client.delete_message_batch(QueueUrl=url, Entries=entries)
        dropped += len(messages)


# The role matrix columns: every kind of caller, in this order.
MATRIX_PARTIES = ["platform_admin", "a_admin", "a_auditor", "a_user", "b_user", "outsider", None]


def matrix_cases(matrix: list[tuple]) -> list:
    """pytest params (method, path, body, party, expected) from matrix rows
    (name, method, path, body, [expected status per MATRIX_PARTIES])."""
    return [
        pytest.param(method, path, body, party, expected[i], id=f"{name}-{party or 'anonymous'}")
        for name, method, path, body, expected in matrix
        for i, party in enumerate(MATRIX_PARTIES)
    ]


def matrix_call(parties: Parties, party: str | None, method: str, path: str, body):
    """One matrix request; every refusal must be application/problem+json."""
    client = parties.client(party)
    call = getattr(client, method)
    response = call(path) if body is None else call(path, body, format="json")
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
    return response


@pytest.fixture
def frozen_rate_windows(monkeypatch):
    """Rate-limit windows (logins included) do not roll over during the test.

    The limits count in fixed windows aligned to the epoch; a test that makes
    five failed logins and expects the sixth to be refused would pass or fail
    depending on whether a window (a minute) ended in between. Here the
    limiter's wall clock stands still at the test's start; everything else in
    `time` (monotonic deadlines) runs on.
    """
    import time as real_time

    from auditlog_project import ratelimits

    class FrozenWallClock:
        def __init__(self) -> None:
            self.now = real_time.time()

        def time(self) -> float:
            return self.now

        def __getattr__(self, name: str):
            return getattr(real_time, name)

    monkeypatch.setattr(ratelimits, "time", FrozenWallClock())
