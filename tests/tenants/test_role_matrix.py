"""The role matrix of the contract, one row per operation, every party in one table.

Columns: platform admin, tenant A admin, A auditor, A user, B user (a member of
another tenant), an outsider (member of nothing), anonymous. The target is
always tenant A or an object in it.
"""

import pytest

from tests.fixtures import Parties, matrix_call, matrix_cases

# (name, method, path, body, expected status per party in PARTIES order)
MATRIX = [
    ("me", "get", "/api/v1/auth/me", None, [200, 200, 200, 200, 200, 200, 401]),
    ("list tenants", "get", "/api/v1/tenants", None, [200, 403, 403, 403, 403, 403, 401]),
    (
        "create tenant",
        "post",
        "/api/v1/tenants",
        {"id": "tenant-new", "name": "New"},
        [201, 403, 403, 403, 403, 403, 401],
    ),
    (
        "create user",
        "post",
        "/api/v1/users",
        {"username": "carol", "password": "a-long-enough-passphrase"},
        [201, 403, 403, 403, 403, 403, 401],
    ),
    ("view tenant", "get", "/api/v1/tenants/tenant-a", None, [200, 200, 403, 403, 404, 404, 401]),
    (
        "patch tenant",
        "patch",
        "/api/v1/tenants/tenant-a",
        {"retention_days": 30},
        [200, 200, 403, 403, 404, 404, 401],
    ),
    (
        "list members",
        "get",
        "/api/v1/tenants/tenant-a/members",
        None,
        [200, 200, 403, 403, 404, 404, 401],
    ),
    (
        "upsert member",
        "post",
        "/api/v1/tenants/tenant-a/members",
        {"username": "oscar", "role": "auditor"},
        [201, 201, 403, 403, 404, 404, 401],
    ),
    (
        "remove member",
        "delete",
        "/api/v1/tenants/tenant-a/members/ursula",
        None,
        [204, 204, 403, 403, 404, 404, 401],
    ),
]

CASES = matrix_cases(MATRIX)


@pytest.mark.parametrize(("method", "path", "body", "party", "expected"), CASES)
def test_role_matrix(parties: Parties, method, path, body, party, expected):
    response = matrix_call(parties, party, method, path, body)
    assert response.status_code == expected, response.content


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"name": "x"}),
        ("get", "/members", None),
        ("post", "/members", {"username": "oscar", "role": "user"}),
        ("delete", "/members/ursula", None),
    ],
)
def test_a_foreign_tenant_answers_exactly_like_a_missing_one(parties, method, suffix, body):
    client = parties.client("b_user")
    call = getattr(client, method)
    kwargs = {"format": "json"} if body else {}
    foreign = call(f"/api/v1/tenants/tenant-a{suffix}", body, **kwargs)
    missing = call(f"/api/v1/tenants/no-such-tenant{suffix}", body, **kwargs)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
