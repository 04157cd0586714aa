"""The last-admin rule under concurrency: two admins demoted at the same time
leave one admin, because membership changes of a tenant are serialised."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from tenants.models import Membership
from tenants.services import LastAdminError, membership_upsert

pytestmark = pytest.mark.django_db(transaction=True)


def _someone_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        n = cursor.fetchone()[0] > 0
        return n


def test_concurrent_demotions_of_the_last_two_admins_leave_one(parties):
    membership_upsert(tenant=parties.tenant_a, username="arthur", role="admin")
    first_holds, second_done = threading.Event(), threading.Event()
    outcome: dict[str, str] = {}

    def first():
        try:
            with transaction.atomic():
                membership_upsert(tenant=parties.tenant_a, username="alice", role="user")
                first_holds.set()
                deadline = time.monotonic() + 10
                # Keep the transaction open until the second demotion is either
                # blocked behind it or finished without waiting (the bug).
                while not (second_done.is_set() or _someone_waits_on_a_lock()):
                    assert time.monotonic() < deadline, "second demotion neither waited nor ended"
                    time.sleep(0.02)
        finally:
            connections.close_all()

    def second():
        try:
            assert first_holds.wait(10)
            membership_upsert(tenant=parties.tenant_a, username="arthur", role="user")
            outcome["second"] = "demoted"
        except LastAdminError:
            outcome["second"] = "refused"
        finally:
            second_done.set()
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcome == {"second": "refused"}
    admins = Membership.objects.filter(tenant_id="tenant-a", role="admin")
    assert list(admins.values_list("user__username", flat=True)) == ["arthur"]
