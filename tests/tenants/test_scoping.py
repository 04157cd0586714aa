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
