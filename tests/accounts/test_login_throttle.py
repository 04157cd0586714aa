"""The login throttle holds for every spelling of a username and every login form."""

from __future__ import annotations

import pytest
from django.test import Client

from auditlog_project.login_throttle import login_key
from tests.fixtures import PASSWORD, make_user, password_login
from tests.ratelimit_helpers import assert_throttled, window

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _windows_that_do_not_end_mid_test(settings):
    settings.LOGIN_RATE_PER_USERNAME = window(5)
    settings.LOGIN_RATE_PER_IP = window(30)
    settings.LOGIN_ATTEMPTS_PER_IP = window(60)


def admin_login(client: Client, username: str, password: str = PASSWORD, ip: str = "10.2.0.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def fail_five_times(username: str) -> None:
    for attempt in range(5):
        ip = f"10.3.0.{attempt}"  # other IPs: only the username counter fills up
        assert password_login(username, "wrong-guess", ip=ip).status_code == 401, attempt


@pytest.mark.parametrize("spelling", ["dora ", " dora", "DORA", "Dora\t", "ｄｏｒａ"])
def test_every_spelling_of_a_throttled_username_is_refused(spelling):
    make_user("dora")
    fail_five_times("dora")
    assert_throttled(password_login(spelling, ip="10.4.0.1"), max_wait=3600)


def test_failures_under_any_spelling_count_together():
    make_user("dora")
    for attempt, spelling in enumerate(["dora ", "DORA", " dora", "Dora", "ｄｏｒａ"]):
        assert password_login(spelling, "wrong-guess", ip=f"10.5.0.{attempt}").status_code == 401
    assert_throttled(password_login("dora", ip="10.5.1.1"))


def test_the_spelling_that_logs_in_counts_on_the_throttled_key():
    make_user("dora")
    assert password_login("dora ").status_code == 200  # the API strips, as its serializer does
    assert login_key("dora ") == login_key("Ｄora") == login_key("dora")


def test_failed_admin_logins_throttle_the_admin_form():
    make_user("erin", superuser=True)
    client = Client()
    for _ in range(5):
        page = admin_login(client, "erin", "wrong-guess")
        assert page.status_code == 200  # the form again, with its error
    page = admin_login(client, "erin ")  # the right password, a trailing space
    assert page.status_code == 200, page.get("Location")
    assert b"Too many failed logins" in page.content
    assert client.get("/admin/").status_code == 302  # not logged in: sent to the login page
    assert_throttled(password_login("erin", ip="10.6.0.1"))  # the API shares the counters


def test_the_admin_form_logs_in_when_not_throttled():
    make_user("erin", superuser=True)
    client = Client()
    assert admin_login(client, "erin", "wrong-guess").status_code == 200
    assert admin_login(client, "erin").status_code == 302
    assert client.get("/admin/").status_code == 200


def test_failed_api_logins_throttle_the_admin_form():
    make_user("erin", superuser=True)
    fail_five_times("erin")
    client = Client()
    page = admin_login(client, "erin")
    assert b"Too many failed logins" in page.content
    assert client.get("/admin/").status_code == 302


def test_attempts_per_ip_are_limited_even_when_they_succeed(settings):
    settings.LOGIN_ATTEMPTS_PER_IP = window(3)
    make_user("fred")
    for _ in range(3):
        assert password_login("fred", ip="10.7.0.1").status_code == 200
    assert_throttled(password_login("fred", ip="10.7.0.1"))
    assert password_login("fred", ip="10.7.0.2").status_code == 200


def test_failures_per_ip_are_limited_across_usernames(settings):
    settings.LOGIN_RATE_PER_IP = window(3)
    for name in ("gus", "hal", "ida"):
        assert password_login(name, "wrong-guess", ip="10.8.0.1").status_code == 401
    assert_throttled(password_login("jon", "wrong-guess", ip="10.8.0.1"))
    assert password_login("jon", "wrong-guess", ip="10.8.0.2").status_code == 401


def test_a_refused_attempt_does_not_count(settings):
    settings.LOGIN_ATTEMPTS_PER_IP = window(6)
    make_user("kim")
    fail_five_times("kim")
    for _ in range(10):
        assert_throttled(password_login("kim", ip="10.9.0.1"))
    # ten refusals used none of the IP's six attempts
    make_user("lea")
    for _ in range(6):
        assert password_login("lea", ip="10.9.0.1").status_code == 200
