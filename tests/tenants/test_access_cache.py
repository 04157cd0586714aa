"""The access cache (tenants/access_cache.py) never serves access that was taken away.

Each test holds a client whose user and membership are cached, makes a change
after which the old entry must not be used, and then plays *another process*:
it puts the entry it held before the change back into the cache (this process
dropped its own at once), so only the Redis generation, bumped after COMMIT,
can stop it. Real COMMITs (transactional tests), real Redis.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from masking import services as masking_services
from masking.policy import PolicyRules
from tenants import access_cache, services
from tenants.models import Membership
from tests.fixtures import bearer_client
from tests.logs.conftest import event_body

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/v1/logs?tenant_id=tenant-a"


class OtherProcess:
    """The entries a process held before a change, put back after it."""

    def __init__(self) -> None:
        with access_cache._lock:
            self.held = dict(access_cache._entries)
        assert self.held, "nothing cached: the test would prove nothing"

    def restore(self) -> None:
        with access_cache._lock:
            access_cache._entries.update(self.held)


def user_queries(call) -> int:
    with CaptureQueriesContext(connection) as queries:
        call()
    return sum('FROM "accounts_user"' in q["sql"] for q in queries.captured_queries)


def warm(client) -> OtherProcess:
    assert client.get(LIST).status_code == 200
    assert client.get(LIST).status_code == 200  # from the cache
    return OtherProcess()


def test_a_repeat_request_reads_no_user_and_a_stale_entry_is_not_used(parties):
    client = parties.client("a_auditor")
    assert user_queries(lambda: client.get(LIST)) == 1
    assert user_queries(lambda: client.get(LIST)) == 0
    other = OtherProcess()
    Membership.objects.filter(user=parties.a_auditor).update(role="user")  # no announcement
    other.restore()
    assert user_queries(lambda: client.get(LIST)) == 0  # the cache answers: nothing said
    access_cache.invalidate([parties.a_auditor.pk])
    other.restore()
    assert user_queries(lambda: client.get(LIST)) == 1


def test_a_removed_membership_is_refused_in_every_process(parties):
    client = parties.client("a_auditor")
    other = warm(client)
    membership = Membership.objects.get(tenant=parties.tenant_a, user=parties.a_auditor)
    services.membership_delete(membership=membership)
    other.restore()
    assert client.get(LIST).status_code == 403


def test_a_role_change_applies_in_every_process(parties):
    client = parties.client("a_admin")
    assert client.post(LIST, event_body(), format="json").status_code == 201
    other = OtherProcess()
    services.membership_upsert(tenant=parties.tenant_a, username="arthur", role="admin")
    services.membership_upsert(tenant=parties.tenant_a, username="alice", role="auditor")
    other.restore()
    assert client.post(LIST, event_body(), format="json").status_code == 403


def test_a_promotion_applies_in_every_process(parties):
    # The old entry refuses (auditor may not write): a refusal from an entry not
    # checked yet is checked first, so the promotion is seen.
    client = parties.client("a_auditor")
    other = warm(client)
    assert client.post(LIST, event_body(), format="json").status_code == 403
    services.membership_upsert(tenant=parties.tenant_a, username="arthur", role="admin")
    other.restore()
    assert client.post(LIST, event_body(), format="json").status_code == 201


def test_a_deactivated_user_is_refused_in_every_process(parties):
    client = parties.client("a_auditor")
    other = warm(client)
    user = User.objects.get(pk=parties.a_auditor.pk)
    user.is_active = False
    user.save()
    other.restore()
    assert client.get(LIST).status_code == 401


def test_a_password_change_ends_the_token_in_every_process(parties):
    client = parties.client("a_auditor")
    other = warm(client)
    user = User.objects.get(pk=parties.a_auditor.pk)
    user.set_password("a-new-and-long-passphrase")
    user.save()
    other.restore()
    assert client.get(LIST).status_code == 401


def test_a_platform_admin_demoted_is_refused_in_every_process(parties):
    client = bearer_client(parties.platform_admin)  # a member of nothing
    assert client.get(LIST).status_code == 200
    other = OtherProcess()
    user = User.objects.get(pk=parties.platform_admin.pk)
    user.is_superuser = False
    user.save()
    other.restore()
    assert client.get(LIST).status_code == 403


def test_a_lost_generation_loses_the_epoch_with_it(parties):
    # One hash holds both: an eviction or a failover that loses a bump cannot
    # keep the epoch, under which an old entry would be taken for current.
    client = parties.client("a_auditor")
    assert client.get(LIST).status_code == 200
    key = access_cache.hash_key()
    redis = access_cache.ratelimits.redis_client()
    access_cache.invalidate([parties.a_auditor.pk])
    assert {b"epoch", str(parties.a_auditor.pk).encode()} <= set(redis.hkeys(key))
    assert redis.ttl(key) == -1  # nothing in it expires, so nothing is evicted alone


def test_a_redis_that_does_not_answer_is_not_asked_again_for_a_second(parties, monkeypatch):
    client = parties.client("a_auditor")
    store = access_cache.ratelimits.redis_store()
    asked = []

    def down(*args, **kwargs):
        asked.append(args)
        raise access_cache.RedisError("down")

    monkeypatch.setattr(store.client, "hmget", down)
    assert access_cache.current_stamp(parties.a_auditor.pk) is None
    assert access_cache.current_stamp(parties.a_auditor.pk) is None
    assert len(asked) == 1  # the outage's backoff, shared with the rate limits
    monkeypatch.undo()
    store.down_until = 0.0  # as a second later
    assert client.get(LIST).status_code == 200
    assert access_cache.current_stamp(parties.a_auditor.pk) is not None


def test_a_deleted_user_is_refused_in_every_process(parties):
    client = bearer_client(parties.platform_admin)  # a member of nothing
    assert client.get(LIST).status_code == 200
    other = OtherProcess()
    User.objects.filter(pk=parties.platform_admin.pk).delete()
    other.restore()
    assert client.get(LIST).status_code == 401


def test_a_deactivated_tenant_is_refused_to_members_and_platform_admins(parties):
    member, admin = parties.client("a_auditor"), bearer_client(parties.platform_admin)
    warm(member)
    assert admin.get(LIST).status_code == 200
    other = OtherProcess()
    services.tenant_update(tenant=parties.tenant_a, is_active=False)
    other.restore()
    assert member.get(LIST).status_code == 403
    assert admin.get(LIST).status_code == 403


def test_a_new_masking_policy_applies_to_the_next_event_in_every_process(parties):
    client = parties.client("a_admin")
    assert client.post(LIST, event_body(), format="json").status_code == 201
    other = OtherProcess()
    rules = PolicyRules.from_json({"key_names": ["customer_ref"]})
    masking_services.policy_put(tenant=parties.tenant_a, rules=rules, username="alice")
    other.restore()
    body = event_body(metadata={"customer_ref": "C-12345"})
    response = client.post(LIST, body, format="json")
    assert response.status_code == 201
    assert response.json()["metadata"]["customer_ref"] != "C-12345"


def test_a_redis_that_lost_its_data_invalidates_every_entry(parties):
    client = parties.client("a_auditor")
    assert user_queries(lambda: client.get(LIST)) == 1
    assert user_queries(lambda: client.get(LIST)) == 0
    access_cache.ratelimits.redis_client().delete(access_cache.hash_key())  # epoch and all
    assert user_queries(lambda: client.get(LIST)) == 1


def test_the_cache_can_be_turned_off(parties, settings):
    settings.ACCESS_CACHE_SECONDS = 0
    client = parties.client("a_auditor")
    assert user_queries(lambda: client.get(LIST)) == 1
    assert user_queries(lambda: client.get(LIST)) == 1
