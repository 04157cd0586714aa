"""auditlog_project.access: one notice per change of access, after COMMIT only.

Whatever path makes the change (services, the model, a queryset delete), the
receivers connected to ACCESS_CHANGED (the open streams today, an auth cache
later) hear of it, once the change is committed and never when it is rolled
back; a failing receiver does not silence the others.
"""

import logging

import pytest
from django.db import transaction

from auditlog_project import access
from tenants import services
from tenants.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    notices: list[tuple] = []

    def receiver(sender, *, user_id, tenant_id, reason, **kwargs):
        notices.append((user_id, tenant_id, reason))

    access.ACCESS_CHANGED.connect(receiver, dispatch_uid="test-heard")
    yield notices
    access.ACCESS_CHANGED.disconnect(dispatch_uid="test-heard")


def committed(callbacks, change) -> None:
    with callbacks(execute=True):
        change()


def test_membership_paths_each_notify_the_user_and_tenant(
    parties, heard, django_capture_on_commit_callbacks
):
    arthur, tenant = parties.a_auditor, parties.tenant_a
    notice = (arthur.pk, "tenant-a", access.MEMBERSHIP)
    paths = [
        lambda: services.membership_upsert(tenant=tenant, username="arthur", role="user"),
        lambda: services.membership_delete(membership=Membership.objects.get(user=arthur)),
        lambda: services.memberships_apply(tenant=tenant, roles={arthur.pk: "auditor"}),
        lambda: services.memberships_apply(tenant=tenant, roles={arthur.pk: None}),
        lambda: Membership.objects.create(user=arthur, tenant=tenant, role="user"),
        lambda: Membership.objects.filter(user=arthur).delete(),  # a queryset delete
    ]
    for path in paths:
        heard.clear()
        committed(django_capture_on_commit_callbacks, path)
        assert heard == [notice]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda user: user.set_password("another password 4242"), access.PASSWORD),
        (lambda user: user.set_unusable_password(), access.PASSWORD),
        (lambda user: setattr(user, "is_active", False), access.ACTIVE),
        (lambda user: setattr(user, "is_superuser", True), access.SUPERUSER),
        (lambda user: setattr(user, "username", "arthur2"), access.USERNAME),
    ],
)
def test_user_changes_notify_every_tenant_of_the_user(
    parties, heard, django_capture_on_commit_callbacks, change, reason
):
    from accounts.models import User

    user = User.objects.get(pk=parties.a_auditor.pk)  # as loaded by any code path
    change(user)
    committed(django_capture_on_commit_callbacks, user.save)
    assert heard == [(user.pk, None, reason)]


def test_a_save_that_changes_no_access_notifies_nobody(
    parties, heard, django_capture_on_commit_callbacks
):
    from accounts.models import User

    user = User.objects.get(pk=parties.a_auditor.pk)
    user.first_name = "Arthur"
    committed(django_capture_on_commit_callbacks, user.save)
    assert heard == []


def test_a_tenant_save_notifies_its_members(parties, heard, django_capture_on_commit_callbacks):
    change = lambda: services.tenant_update(tenant=parties.tenant_a, is_active=False)  # noqa: E731
    committed(django_capture_on_commit_callbacks, change)
    assert heard == [(None, "tenant-a", access.TENANT)]


def test_nothing_is_heard_for_a_rolled_back_change(
    parties, heard, django_capture_on_commit_callbacks
):
    membership = Membership.objects.get(user=parties.a_auditor)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.membership_delete(membership=membership)
        raise RuntimeError("rolled back")
    assert heard == []


def test_a_failing_receiver_is_logged_and_others_still_hear(
    parties, heard, django_capture_on_commit_callbacks, caplog
):
    def broken(sender, **kwargs):
        raise ConnectionError("cache down")

    access.ACCESS_CHANGED.connect(broken, dispatch_uid="test-broken")
    try:
        with caplog.at_level(logging.ERROR, logger="auditlog_project.access"):
            committed(
                django_capture_on_commit_callbacks,
                lambda: Membership.objects.filter(user=parties.a_auditor).delete(),
            )
    finally:
        access.ACCESS_CHANGED.disconnect(dispatch_uid="test-broken")
    assert heard == [(parties.a_auditor.pk, "tenant-a", access.MEMBERSHIP)]
    assert "broken" in caplog.text and "ConnectionError" in caplog.text


def test_a_change_needs_a_user_or_a_tenant():
    with pytest.raises(ValueError, match="user, a tenant or both"):
        access.access_changed(user_id=None, tenant_id=None, reason=access.TENANT)
