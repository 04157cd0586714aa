"""Token, refresh, logout, me, and brute-force protection, through real HTTP calls."""

import ipaddress
import uuid

import pytest
from rest_framework.test import APIClient

from tests.fixtures import PASSWORD, bearer_client, make_user

pytestmark = pytest.mark.django_db


def login(username, password=PASSWORD, ip="10.0.0.1"):
    return APIClient().post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


def fresh_name(prefix: str) -> str:
    """Rate-limit counters outlive a test in Redis: every test gets new names."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def unique_ip() -> str:
    return str(ipaddress.IPv6Address(uuid.uuid4().int))


def test_token_returns_access_refresh_type_and_lifetime(parties):
    response = login("alice", ip=unique_ip())
    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert 60 <= body["expires_in"] <= 3600
    me = APIClient().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.json()["username"] == "alice"


def test_bad_credentials_are_401_problem(db):
    # A fresh name: failed logins count against the username across runs (Redis).
    response = login(make_user(fresh_name("mallory")).username, "wrong-password", ip=unique_ip())
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_token_refuses_unknown_fields(parties):
    response = APIClient().post(
        "/api/v1/auth/token",
        {"username": "alice", "password": PASSWORD, "otp": "1"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "otp"


def test_refresh_rotates_and_the_old_refresh_token_dies(parties):
    first = login("alice", ip=unique_ip()).json()
    rotated = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json"
    )
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]
    assert rotated.json()["token_type"] == "Bearer"
    replay = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json"
    )
    assert replay.status_code == 401


def test_refresh_of_a_deleted_user_is_401_not_500(parties):
    tokens = login("oscar", ip=unique_ip()).json()
    parties.outsider.delete()
    response = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert response.status_code == 401


def test_logout_kills_the_refresh_token(parties):
    tokens = login("alice", ip=unique_ip()).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert (
        client.post(
            "/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json"
        ).status_code
        == 204
    )
    response = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert response.status_code == 401


def test_logout_refuses_another_users_refresh_token(parties):
    bobs = login("bob", ip=unique_ip()).json()
    response = parties.client("a_admin").post(
        "/api/v1/auth/logout", {"refresh": bobs["refresh"]}, format="json"
    )
    assert response.status_code == 403
    still_alive = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": bobs["refresh"]}, format="json"
    )
    assert still_alive.status_code == 200


def test_logout_with_garbage_is_400_naming_the_field(parties):
    response = parties.client("a_admin").post(
        "/api/v1/auth/logout", {"refresh": "not-a-token"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "refresh"


def test_me_lists_memberships_and_platform_flag(parties):
    body = parties.client("a_admin").get("/api/v1/auth/me").json()
    assert body == {
        "username": "alice",
        "is_platform_admin": False,
        "memberships": [{"tenant_id": "tenant-a", "role": "admin"}],
    }
    assert parties.client("platform_admin").get("/api/v1/auth/me").json()["is_platform_admin"]


def test_create_user_then_log_in(parties):
    response = parties.client("platform_admin").post(
        "/api/v1/users",
        {"username": "newbie", "password": "a-long-enough-passphrase", "email": "n@example.com"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json() == {
        "username": "newbie",
        "email": "n@example.com",
        "is_platform_admin": False,
    }
    assert login("newbie", "a-long-enough-passphrase", ip=unique_ip()).status_code == 200


def test_create_user_conflict_and_weak_password(parties):
    admin = parties.client("platform_admin")
    taken = admin.post(
        "/api/v1/users",
        {"username": "Alice", "password": "a-long-enough-passphrase"},
        format="json",
    )
    assert taken.status_code == 409
    weak = admin.post("/api/v1/users", {"username": "weak", "password": "123"}, format="json")
    assert weak.status_code == 400
    assert {e["field"] for e in weak.json()["errors"]} == {"password"}


@pytest.mark.usefixtures("frozen_rate_windows")
class TestBruteForce:
    def test_failed_logins_per_username_are_limited_with_retry_after(self):
        victim = make_user(fresh_name("victim")).username
        for attempt in range(5):
            assert login(victim, "guess", ip=unique_ip()).status_code == 401, attempt
        blocked = login(victim, PASSWORD, ip=unique_ip())  # even the right password
        assert blocked.status_code == 429
        assert blocked["Content-Type"] == "application/problem+json"
        assert 1 <= int(blocked["Retry-After"]) <= 60

    def test_failed_logins_per_ip_are_limited(self):
        ip = unique_ip()
        for _ in range(30):
            assert login(fresh_name("nobody"), "guess", ip=ip).status_code == 401
        blocked = login(fresh_name("someone"), "guess", ip=ip)
        assert blocked.status_code == 429
        assert int(blocked["Retry-After"]) >= 1

    def test_successful_logins_do_not_count(self):
        regular = make_user(fresh_name("regular")).username
        for _ in range(8):
            assert login(regular, ip=unique_ip()).status_code == 200

    def test_limits_are_per_username(self):
        victim = make_user(fresh_name("victim")).username
        bystander = make_user(fresh_name("bystander")).username
        for _ in range(5):
            login(victim, "guess", ip=unique_ip())
        assert login(victim, ip=unique_ip()).status_code == 429
        assert login(bystander, ip=unique_ip()).status_code == 200


def test_bearer_client_helper_is_real(parties):
    # The fixture's tokens go through the real authentication class.
    assert bearer_client(parties.a_user).get("/api/v1/auth/me").status_code == 200
    assert bearer_client(None).get("/api/v1/auth/me").status_code == 401
