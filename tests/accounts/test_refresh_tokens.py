"""Refresh tokens: atomic rotation, reuse revokes the family, credentials
changes revoke everything, and the stored rows are useless if read.

Transactional tests: the revocation that a refused refresh commits, and the
row lock that serialises concurrent refreshes, are only visible across
committed transactions and separate connections.
"""

import io
import threading
import uuid

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.models import TokenFamily
from tests.fixtures import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

REFRESH = "/api/v1/auth/token/refresh"
NEW_PASSWORD = "another-long-passphrase-42"


def login(username: str, password: str = PASSWORD) -> dict:
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"  # login limits are per IP
    response = APIClient().post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post(REFRESH, {"refresh": token}, format="json")


def me(access: str) -> int:
    return APIClient().get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {access}").status_code


def test_eight_concurrent_refreshes_of_one_token_let_exactly_one_through(parties):
    token = login("alice")["refresh"]
    start = threading.Barrier(8, timeout=30)
    results: list = []

    def attempt():
        try:
            start.wait()
            results.append(refresh(token))
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    statuses = sorted(response.status_code for response in results)
    assert statuses == [200] + [401] * 7
    # The seven losers presented a used token: reuse, so the winner's session
    # is revoked too (a client must not refresh one token in parallel).
    winner = next(r for r in results if r.status_code == 200).json()
    assert refresh(winner["refresh"]).status_code == 401
    assert TokenFamily.objects.get(user=parties.a_admin).revoked_reason == "reuse"


def test_a_rotated_token_works_once_and_the_new_one_works(parties):
    first = login("alice")
    second = refresh(first["refresh"])
    assert second.status_code == 200
    body = second.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert me(body["access"]) == 200
    assert refresh(body["refresh"]).status_code == 200


def test_reusing_a_rotated_token_revokes_every_descendant(parties):
    other_session = login("alice")
    t0 = login("alice")
    t1 = refresh(t0["refresh"]).json()
    t2 = refresh(t1["refresh"]).json()
    replay = refresh(t0["refresh"])
    assert replay.status_code == 401
    assert replay["Content-Type"] == "application/problem+json"
    assert "already used" in replay.json()["detail"]
    assert refresh(t2["refresh"]).status_code == 401  # the live descendant
    assert refresh(t1["refresh"]).status_code == 401
    # Only that login's family: another session of the same user lives on.
    assert refresh(other_session["refresh"]).status_code == 200


def test_logout_revokes_the_whole_session(parties):
    t0 = login("alice")
    t1 = refresh(t0["refresh"]).json()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {t1['access']}")
    assert (
        client.post("/api/v1/auth/logout", {"refresh": t0["refresh"]}, format="json").status_code
        == 204
    )
    assert refresh(t1["refresh"]).status_code == 401


def test_password_change_revokes_refresh_and_access_tokens(parties):
    tokens = login("alice")
    user = parties.a_admin
    user.set_password(NEW_PASSWORD)  # any code path: a service, changepassword, a form
    user.save()
    assert refresh(tokens["refresh"]).status_code == 401
    assert me(tokens["access"]) == 401
    fresh = login("alice", NEW_PASSWORD)
    assert me(fresh["access"]) == 200
    assert refresh(fresh["refresh"]).status_code == 200


def test_password_change_with_the_changepassword_command_revokes(parties, monkeypatch):
    from django.contrib.auth.management.commands import changepassword
    from django.core.management import call_command

    tokens = login("alice")
    monkeypatch.setattr(changepassword.getpass, "getpass", lambda *a, **k: NEW_PASSWORD)
    call_command("changepassword", "alice", stdout=io.StringIO())
    assert refresh(tokens["refresh"]).status_code == 401
    assert me(tokens["access"]) == 401


def test_password_change_in_the_admin_revokes(parties, client):
    tokens = login("alice")
    client.force_login(parties.platform_admin)
    response = client.post(
        f"/admin/accounts/user/{parties.a_admin.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert refresh(tokens["refresh"]).status_code == 401
    assert me(tokens["access"]) == 401
    assert TokenFamily.objects.get(user=parties.a_admin).revoked_reason == "credentials"


def _user_change_form(user, **overrides) -> dict:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "initial-date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "initial-date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_deactivation_in_the_admin_revokes_for_good(parties, client):
    tokens = login("alice")
    client.force_login(parties.platform_admin)
    path = f"/admin/accounts/user/{parties.a_admin.pk}/change/"
    response = client.post(path, _user_change_form(parties.a_admin, is_active=None))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert me(tokens["access"]) == 401
    assert refresh(tokens["refresh"]).status_code == 401
    # Reactivated, the user must log in again: the old session stays revoked.
    assert client.post(path, _user_change_form(parties.a_admin)).status_code == 302
    assert refresh(tokens["refresh"]).status_code == 401
    assert me(login("alice")["access"]) == 200


def test_other_saves_of_the_user_revoke_nothing(parties):
    tokens = login("alice")
    user = type(parties.a_admin).objects.get(pk=parties.a_admin.pk)
    user.email = "alice@example.com"
    user.save()
    assert refresh(tokens["refresh"]).status_code == 200


def test_the_stored_rows_hold_nothing_that_can_be_presented(parties):
    tokens = login("alice")
    rotated = refresh(tokens["refresh"]).json()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT f::text, t::text FROM accounts_tokenfamily f "
            "JOIN accounts_issuedrefreshtoken t ON t.family_id = f.id"
        )
        dump = " ".join(" ".join(row) for row in cursor.fetchall())
        cursor.execute(
            "SELECT to_regclass('token_blacklist_outstandingtoken'), "
            "to_regclass('token_blacklist_blacklistedtoken')"
        )
        assert cursor.fetchone() == (None, None)  # the old clear-text table is gone
    import jwt

    for token in (tokens["refresh"], rotated["refresh"]):
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        assert token not in dump
        assert jti not in dump
    for value in dump.replace("(", " ").replace(")", " ").replace(",", " ").split():
        assert refresh(value).status_code == 401


def test_a_login_deletes_the_users_expired_families_only(parties):
    from datetime import timedelta

    from django.utils import timezone

    live = login("alice")
    TokenFamily.objects.create(user=parties.a_admin, expires_at=timezone.now() - timedelta(hours=1))
    TokenFamily.objects.create(user=parties.b_admin, expires_at=timezone.now() - timedelta(hours=1))
    login("alice")
    assert TokenFamily.objects.filter(user=parties.a_admin).count() == 2  # live ones
    assert TokenFamily.objects.filter(user=parties.b_admin).count() == 1  # not alice's
    assert refresh(live["refresh"]).status_code == 200
