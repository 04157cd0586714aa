"""The one tenant-scoping mechanism: resolution, refusal, closed by default."""

import pytest
from django.db import transaction
from rest_framework.test import APIRequestFactory, force_authenticate

from tenants.models import Membership
from tenants.permissions import Operation
from tenants.scoping import (
    TenantNotAccessible,
    TenantRequired,
    TenantScopedAPIView,
    activate,
    resolve_access,
)

pytestmark = pytest.mark.django_db


class MembersProbe(TenantScopedAPIView):
    tenant_operations = {"GET": Operation.READ_EVENTS}
    scoped_model = Membership

    def get(self, request):
        from rest_framework.response import Response

        rows = self.get_queryset().values_list("tenant_id", flat=True)
        return Response({"tenant": self.access.tenant_id, "rows": sorted(set(rows))})


def probe(user, **params):
    request = APIRequestFactory().get("/probe", params, **params.pop("headers", {}))
    force_authenticate(request, user=user)
    with transaction.atomic():
        return MembersProbe.as_view()(request)


def test_single_tenant_callers_may_omit_the_tenant(parties):
    response = probe(parties.a_user)
    assert response.status_code == 200
    assert response.data == {"tenant": "tenant-a", "rows": ["tenant-a"]}


def test_the_header_names_the_tenant(parties):
    request = APIRequestFactory().get("/probe", HTTP_X_TENANT_ID="tenant-b")
    force_authenticate(request, user=parties.b_user)
    with transaction.atomic():
        assert MembersProbe.as_view()(request).data["tenant"] == "tenant-b"


def test_multi_tenant_callers_must_name_the_tenant(parties):
    Membership.objects.create(user=parties.a_user, tenant=parties.tenant_b, role="user")
    with pytest.raises(TenantRequired):
        resolve_access(parties.a_user, None)
    assert resolve_access(parties.a_user, "tenant-b").role == "user"
    with pytest.raises(TenantRequired):
        resolve_access(parties.platform_admin, None)


@pytest.mark.parametrize("tenant_id", ["tenant-b", "no-such", "BAD SLUG", "x" * 100])
def test_foreign_missing_and_malformed_tenants_are_refused_alike(parties, tenant_id):
    with pytest.raises(TenantNotAccessible):
        resolve_access(parties.a_admin, tenant_id)


def test_platform_admins_reach_every_active_tenant(parties):
    access = resolve_access(parties.platform_admin, "tenant-b")
    assert access.allows(Operation.CLEANUP) and access.tenant_id == "tenant-b"


def test_a_view_only_sees_its_tenants_rows(parties):
    response = probe(parties.b_user, tenant_id="tenant-b")
    assert response.data["rows"] == ["tenant-b"]


def test_undeclared_methods_are_refused(parties):
    request = APIRequestFactory().post("/probe", {}, format="json")
    force_authenticate(request, user=parties.a_admin)
    with transaction.atomic():
        assert MembersProbe.as_view()(request).status_code == 405


def test_overriding_get_queryset_is_refused_at_class_creation():
    with pytest.raises(TypeError, match="dangerously_"):

        class Leaky(TenantScopedAPIView):
            def get_queryset(self):
                return Membership.objects.all()


def test_a_queryset_attribute_is_refused_too():
    with pytest.raises(TypeError):

        class Leaky(TenantScopedAPIView):
            queryset = Membership.objects.all()


@pytest.mark.django_db(transaction=True)
def test_activate_needs_a_transaction():
    with pytest.raises(RuntimeError, match="transaction"):
        activate("tenant-a")


@pytest.mark.django_db(transaction=True)
def test_activate_is_transaction_local():
    from django.db import connection

    with transaction.atomic():
        activate("tenant-a")
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('app.tenant_id', true)")
            assert cursor.fetchone()[0] == "tenant-a"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        assert cursor.fetchone()[0] in (None, "")


class BodyProbe(TenantScopedAPIView):
    """A write whose body names the tenant, like single-event ingest."""

    tenant_operations = {"GET": Operation.READ_EVENTS, "POST": Operation.CREATE_EVENTS}
    scoped_model = Membership
    tenant_from_body = "single"

    def get(self, request):
        from rest_framework.response import Response

        return Response({"tenant": self.access.tenant_id})

    post = get


class BulkProbe(BodyProbe):
    tenant_from_body = "bulk"


def send(view, user, body, **query):
    path = "/probe" + (f"?tenant_id={query['tenant_id']}" if query else "")
    request = APIRequestFactory().post(path, body, format="json")
    force_authenticate(request, user=user)
    with transaction.atomic():
        response = view.as_view()(request)
    response.render()
    return response


def error_fields(response) -> set[str]:
    import json

    return {error["field"] for error in json.loads(response.content)["errors"]}


def test_a_single_body_names_the_tenant(parties):
    Membership.objects.create(user=parties.a_admin, tenant=parties.tenant_b, role="admin")
    assert send(BodyProbe, parties.a_admin, {"tenant_id": "tenant-b"}).data == {
        "tenant": "tenant-b"
    }
    agreeing = send(BodyProbe, parties.a_admin, {"tenant_id": "tenant-b"}, tenant_id="tenant-b")
    assert agreeing.data == {"tenant": "tenant-b"}


def test_a_single_body_that_disagrees_with_the_query_is_400(parties):
    response = send(BodyProbe, parties.a_admin, {"tenant_id": "tenant-a"}, tenant_id="tenant-b")
    assert response.status_code == 400
    assert error_fields(response) == {"tenant_id"}


@pytest.mark.parametrize("value", ["", 5, ["tenant-a"], {"id": "tenant-a"}, False])
def test_a_body_tenant_that_is_not_a_non_empty_string_is_400(parties, value):
    for view in (BodyProbe, BulkProbe):
        response = send(view, parties.a_admin, {"tenant_id": value})
        assert response.status_code == 400, view
        assert error_fields(response) == {"tenant_id"}


def test_bulk_items_with_a_malformed_tenant_are_400_naming_the_item(parties):
    body = {"events": [{"tenant_id": "tenant-a"}, {"tenant_id": 7}, {}, {"tenant_id": ""}]}
    response = send(BulkProbe, parties.a_admin, body)
    assert response.status_code == 400
    assert error_fields(response) == {"events[1].tenant_id", "events[3].tenant_id"}


def test_bulk_items_name_the_tenant(parties):
    body = {"events": [{"tenant_id": "tenant-b"}, {}]}
    assert send(BulkProbe, parties.b_admin, body).data == {"tenant": "tenant-b"}
    assert send(BulkProbe, parties.a_admin, body).status_code == 403


def test_a_bulk_body_naming_two_tenants_is_403_unless_creation_is_allowed_in_both(parties):
    Membership.objects.create(user=parties.a_admin, tenant=parties.tenant_b, role="auditor")
    body = {"events": [{"tenant_id": "tenant-a"}, {"tenant_id": "tenant-b"}]}
    assert send(BulkProbe, parties.a_admin, body).status_code == 403
    response = send(BulkProbe, parties.platform_admin, body)
    assert response.status_code == 400
    assert error_fields(response) == {"tenant_id"}
    by_query = send(BulkProbe, parties.platform_admin, {"events": [{}]}, tenant_id="tenant-b")
    assert by_query.data == {"tenant": "tenant-b"}


def test_reads_ignore_the_body(parties):
    request = APIRequestFactory().get("/probe", {"tenant_id": "tenant-b"})
    force_authenticate(request, user=parties.b_user)
    with transaction.atomic():
        assert BodyProbe.as_view()(request).data == {"tenant": "tenant-b"}


def test_an_unknown_body_rule_is_refused_at_class_creation():
    with pytest.raises(TypeError, match="tenant_from_body"):

        class Typo(TenantScopedAPIView):
            tenant_from_body = "many"  # type: ignore[assignment]


def test_no_view_resolves_a_tenant_itself():
    """Tenant resolution lives in tenants/scoping.py only (the stream's handshake,
    which is not a view, is the one other caller)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    callers = [
        path.relative_to(root).as_posix()
        for app in ("accounts", "tenants", "logs")
        for path in (root / app).rglob("*.py")
        if "resolve_access(" in path.read_text() and path.name not in ("scoping.py", "consumers.py")
    ]
    assert callers == []


def test_no_endpoint_is_described_by_the_base_views_docstring(client):
    """A scoped view without its own description would publish the base view's
    (internal) docstring in the OpenAPI schema."""
    import yaml

    schema = yaml.safe_load(client.get("/api/schema/").content)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert "tenant_operations" not in operation.get("description", ""), (method, path)


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT current_setting('app.tenant_id', true) WHERE %s = 1", [1]),
        ("SELECT current_setting('app.tenant_id', true) WHERE %(one)s = 1", {"one": 1}),
        ("SELECT current_setting('app.tenant_id', true)", None),  # activated apart
    ],
)
def test_a_writes_first_statement_runs_with_its_tenant_set(db, sql, params):
    from django.db import connection, transaction

    from tenants.scoping import _ActivateWithFirstStatement

    wrapper = _ActivateWithFirstStatement("tenant-a")
    with transaction.atomic(), connection.cursor() as cursor, connection.execute_wrapper(wrapper):
        cursor.execute(sql, params)
        assert cursor.fetchall() == [("tenant-a",)]
        cursor.execute("SELECT 2")  # the next statements go as they are
        assert cursor.fetchall() == [(2,)]


def test_a_server_side_cursor_first_gets_the_tenant_in_its_own_round_trip(db):
    from django.db import connection, transaction

    from tenants.scoping import _ActivateWithFirstStatement

    wrapper = _ActivateWithFirstStatement("tenant-b")
    with (
        transaction.atomic(),
        connection.execute_wrapper(wrapper),
        connection.chunked_cursor() as cursor,
    ):
        cursor.execute("SELECT current_setting('app.tenant_id', true)")
        assert cursor.fetchall() == [("tenant-b",)]


def test_no_activation_wrapper_outlives_its_request(parties):
    from django.db import connection

    from tenants.scoping import _ActivateWithFirstStatement

    client = parties.client("a_admin")
    bad = {"tenant_id": "tenant-a", "user_id": "alice", "action": "", "resource_type": "doc"}
    assert client.post("/api/v1/logs", bad, format="json").status_code == 400  # in the handler
    good = {"tenant_id": "tenant-a", "user_id": "alice", "action": "VIEW", "resource_type": "doc"}
    assert client.post("/api/v1/logs", good, format="json").status_code == 201
    assert not [
        w for w in connection.execute_wrappers if isinstance(w, _ActivateWithFirstStatement)
    ]
