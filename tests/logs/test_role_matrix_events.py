"""The contract's role matrix for the event operations, every party in one table.

Columns as in tests/tenants/test_role_matrix.py: platform admin, tenant A admin,
A auditor, A user, B user, outsider, anonymous. The target is tenant A, named
explicitly, so "another tenant" is a tenant-level refusal (403) for B and the
outsider; the `user` role reads only its own events.
"""

import pytest

from tests.fixtures import matrix_call, matrix_cases
from tests.logs.conftest import event_body, seed

ONE = event_body(user_id="ursula", message="matrix")  # a_user's own username
FORGED = event_body(user_id="alice", message="matrix")  # someone else's
BULK = {"tenant_id": "tenant-a", "events": [event_body(tenant_id=...), event_body(tenant_id=...)]}

# (name, method, path, body, expected status per party)
MATRIX = [
    ("create", "post", "/api/v1/logs", ONE, [201, 201, 403, 201, 403, 403, 401]),
    # The `user` role records only its own actions (issue 9: forged actors).
    ("create as another", "post", "/api/v1/logs", FORGED, [201, 201, 403, 403, 403, 403, 401]),
    ("bulk", "post", "/api/v1/logs/bulk", BULK, [201, 201, 403, 201, 403, 403, 401]),
    ("list", "get", "/api/v1/logs?tenant_id=tenant-a", None, [200, 200, 200, 200, 403, 403, 401]),
    (
        "get",
        "get",
        "/api/v1/logs/{alices}?tenant_id=tenant-a",
        None,
        [200, 200, 200, 404, 403, 403, 401],
    ),
    (
        "export",
        "get",
        "/api/v1/logs/export?tenant_id=tenant-a&format=ndjson",
        None,
        [200, 200, 200, 200, 403, 403, 401],
    ),
    (
        "stats",
        "get",
        "/api/v1/logs/stats?tenant_id=tenant-a",
        None,
        [200, 200, 200, 200, 403, 403, 401],
    ),
    (
        "correlation",
        "get",
        "/api/v1/logs/correlation?tenant_id=tenant-a&request_id=matrix",
        None,
        [200, 200, 200, 200, 403, 403, 401],
    ),
]

CASES = matrix_cases(MATRIX)


@pytest.mark.parametrize(("method", "path", "body", "party", "expected"), CASES)
def test_event_role_matrix(parties, method, path, body, party, expected):
    (alices,) = seed(parties, "tenant-a", [event_body(user_id="alice")])
    seed(parties, "tenant-a", [event_body(user_id="ursula")])
    path = path.format(alices=alices)
    response = matrix_call(parties, party, method, path, body)
    assert response.status_code == expected, response.content[:300]
    if party == "a_user" and path.startswith("/api/v1/logs?"):
        assert {event["user_id"] for event in response.json()["results"]} == {"ursula"}
