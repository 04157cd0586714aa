"""THE hook for every change to what a user may reach: `access_changed`.

Access is resolved from the database (the user row for `is_active` and the
password claim, the membership for tenant and role: tenants/scoping.py).
What outlives a request needs telling: an open WebSocket stream (logs/stream.py
closes or narrows it) and the hot path's cache of users and tenant access
(tenants/access_cache.py drops and invalidates entries). They all listen here.

Called by whatever changes access, whichever path made the change (API,
admin, a command, a service):
- accounts.models.User.save: password set, activated or deactivated,
  superuser flag or username changed; accounts.signals: a user deleted;
- tenants.signals: a membership created, changed (role) or deleted, a tenant
  saved (deactivated, renamed).

A receiver is connected to `ACCESS_CHANGED` (a Django signal) and gets
`user_id` (None: every user of the tenant), `tenant_id` (None: every tenant of
the user) and `reason`. Receivers run after COMMIT (never for a change that
was rolled back, and a re-check made by a receiver sees the change), each
apart: one that fails is logged and does not stop the others.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

ACCESS_CHANGED = Signal()  # kwargs: user_id, tenant_id, reason
# Sent at once, inside the changing transaction, for this process's own state
# (the access cache forgets its entries, so even the transaction that made the
# change, and a test's, never reads the old value from it). Same kwargs.
ACCESS_CHANGING = Signal()

# The reasons receivers are given (free to ignore: a re-check tells the truth).
PASSWORD = "password"  # noqa: S105 - a reason's name, not a secret
ACTIVE = "active"  # the user was activated or deactivated
SUPERUSER = "superuser"
USERNAME = "username"
MEMBERSHIP = "membership"  # created, role changed or deleted
TENANT = "tenant"  # the tenant was saved (deactivated, renamed)
DELETED = "deleted"  # the user was deleted


def access_changed(*, user_id: int | None, tenant_id: str | None, reason: str) -> None:
    """Tell every receiver, after COMMIT, that this access may have changed."""
    if user_id is None and tenant_id is None:
        raise ValueError("access_changed needs a user, a tenant or both")
    ACCESS_CHANGING.send(sender=None, user_id=user_id, tenant_id=tenant_id, reason=reason)
    transaction.on_commit(lambda: _notify(user_id, tenant_id, reason))


def _notify(user_id: int | None, tenant_id: str | None, reason: str) -> None:
    results = ACCESS_CHANGED.send_robust(
        sender=None, user_id=user_id, tenant_id=tenant_id, reason=reason
    )
    for receiver, result in results:
        if isinstance(result, Exception):
            logger.error(
                "access_changed receiver %s failed (%s): %s",
                getattr(receiver, "__qualname__", receiver),
                reason,
                type(result).__name__,
            )
