"""Every /api/ error is application/problem+json, never HTML, never a stack trace."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert "Traceback" not in response.content.decode()
    return body


def test_broken_json_is_400(client):
    response = client.post(
        "/api/v1/auth/token", data='{"username": "x",', content_type="application/json"
    )
    assert "JSON parse error" in assert_problem(response, 400)["detail"]


def test_deeply_nested_json_is_400(client):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 400)


def test_nan_is_not_json(client):
    response = client.post(
        "/api/v1/auth/token", data='{"username": NaN}', content_type="application/json"
    )
    assert_problem(response, 400)


def test_a_json_array_where_an_object_belongs_is_400(client):
    response = client.post("/api/v1/auth/token", data="[]", content_type="application/json")
    assert_problem(response, 400)


def test_wrong_content_type_is_415(client):
    response = client.post("/api/v1/auth/token", data="username=x", content_type="text/plain")
    assert "text/plain" in assert_problem(response, 415)["detail"]


def test_unknown_api_path_is_404(client):
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404)
    assert "/api/v1/no-such-thing" in body["detail"]


def test_wrong_method_is_405(client):
    assert_problem(client.get("/api/v1/auth/token"), 405)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_oversized_body_is_413(client):
    body = '{"username": "' + "x" * 2048 + '"}'
    assert_problem(
        client.post("/api/v1/auth/token", data=body, content_type="application/json"), 413
    )


def test_validation_errors_list_fields(client):
    response = client.post("/api/v1/auth/token", data="{}", content_type="application/json")
    body = assert_problem(response, 400)
    assert {e["field"] for e in body["errors"]} == {"username", "password"}
    assert all(e["code"] == "required" for e in body["errors"])


def test_unauthenticated_is_401_with_www_authenticate(client):
    response = client.get("/api/v1/auth/me")
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_crash_is_500_problem_without_details(parties, monkeypatch):
    import accounts.api.views as views

    def explode(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "user_identity", explode)
    response = parties.client("a_admin").get("/api/v1/auth/me")
    body = assert_problem(response, 500)
    assert "secret internals" not in response.content.decode()
    assert body["title"] == "Internal Server Error"


def test_django_level_handlers_answer_problem_json(rf):
    from auditlog_project import problems

    request = rf.get("/api/v1/x")
    for handler, status in (
        (problems.server_error, 500),
        (lambda r: problems.bad_request(r, None), 400),
        (lambda r: problems.permission_denied(r, None), 403),
    ):
        response = handler(request)
        assert response.status_code == status
        assert response["Content-Type"] == PROBLEM


def test_flatten_errors_builds_field_paths():
    from rest_framework.exceptions import ErrorDetail

    from auditlog_project.problems import flatten_errors

    detail = {
        "events": [
            {},
            {"ip_address": [ErrorDetail("Enter a valid IP.", code="invalid")]},
            {"before": {"non_field_errors": [ErrorDetail("Too big.", code="too_large")]}},
        ],
        "non_field_errors": ["Whole thing is wrong."],
    }
    assert list(flatten_errors(detail)) == [
        {"field": "events[1].ip_address", "message": "Enter a valid IP.", "code": "invalid"},
        {"field": "events[2].before", "message": "Too big.", "code": "too_large"},
        {"field": "", "message": "Whole thing is wrong.", "code": "invalid"},
    ]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_paths_are_404_problem_for_every_method(method):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(
        "/api/v1/logs/cleanup-nope", data="{}", content_type="application/json"
    )
    assert_problem(response, 404)


def test_csrf_failures_answer_problem_json_to_the_api_and_a_page_to_forms(rf):
    from auditlog_project import problems

    response = problems.csrf_failure(rf.post("/api/v1/logs"), "no token")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    page = problems.csrf_failure(rf.post("/members/"), "no token")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
    assert b"reload the page" in page.content
