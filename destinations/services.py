"""Writes of destinations: register, change, remove, replay. Tenant admins call them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from auditlog_project.errors import Conflict, Invalid
from tenants.models import Tenant

from . import queueing
from .choices import State
from .models import Destination
from .secret_box import new_secret, seal_secret
from .urlguard import UrlRefused, checked_url

MIN_SECRET = 16


@dataclass(frozen=True)
class Created:
    destination: Destination
    secret: str  # shown once, in the creation's answer


def _url(url: str) -> str:
    try:
        return checked_url(url)
    except UrlRefused as refused:
        raise Invalid({"url": [f"Refused: {refused}"]}) from None


def _secret(secret: str | None) -> str:
    if secret is None:
        return new_secret()
    if len(secret) < MIN_SECRET:
        raise Invalid({"secret": [f"At least {MIN_SECRET} characters."]})
    return secret


def destination_create(
    *, tenant: Tenant, name: str, url: str, secret: str | None, actor: str
) -> Created:
    limit = settings.DESTINATIONS_MAX_PER_TENANT
    if Destination.objects.filter(tenant=tenant).count() >= limit:
        raise Conflict(f"A tenant has at most {limit} destinations (DESTINATIONS_MAX_PER_TENANT).")
    plain = _secret(secret)
    ident = uuid.uuid4()
    destination = Destination(
        id=ident,
        tenant=tenant,
        name=name,
        url=_url(url),
        secret=seal_secret(tenant.pk, str(ident), plain),
        created_by=actor,
    )
    _save(destination, force_insert=True)
    return Created(destination=destination, secret=plain)


def _save(destination: Destination, **kwargs) -> None:
    try:
        with transaction.atomic():
            destination.save(**kwargs)
    except IntegrityError:
        raise Conflict(f"A destination named {destination.name!r} exists already.") from None


def destination_update(*, destination: Destination, changes: dict) -> Destination:
    """Change name, url, secret or state; un-parking (state "active") retries at once."""
    locked = Destination.objects.select_for_update().get(pk=destination.pk)
    if "name" in changes:
        locked.name = changes["name"]
    if "url" in changes:
        locked.url = _url(changes["url"])
    if "secret" in changes:
        locked.secret = seal_secret(locked.tenant_id, str(locked.pk), _secret(changes["secret"]))
    if changes.get("state") == State.ACTIVE:
        _unpark(locked)
    elif changes.get("state") == State.PARKED and locked.state != State.PARKED:
        locked.state = State.PARKED
        locked.parked_reason = "paused by an administrator"
    _save(locked)
    if locked.state == State.ACTIVE:
        transaction.on_commit(lambda: queueing.kick([locked]))
    return locked


def _unpark(destination: Destination) -> None:
    destination.state = State.ACTIVE
    destination.parked_reason = ""
    destination.failures = 0
    destination.next_attempt_at = None


def destination_delete(*, destination: Destination) -> None:
    """Remove the destination and its queue (undelivered events are not sent)."""
    Destination.objects.filter(pk=destination.pk).delete()


def destination_replay(*, destination: Destination, since: datetime) -> int:
    """Queue the tenant's events dated from `since` again (after what is queued);
    un-parks the destination. The number of events queued."""
    if since > timezone.now():
        raise Invalid({"from": ["Must not be in the future."]})
    queued = queueing.enqueue_replay(destination, since)
    locked = Destination.objects.select_for_update().get(pk=destination.pk)
    _unpark(locked)
    locked.save()
    transaction.on_commit(lambda: queueing.kick([locked]))
    return queued
