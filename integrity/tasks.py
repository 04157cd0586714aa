"""Integrity tasks (Celery on SQS, scheduled by beat): thin calls into the services."""

from __future__ import annotations

import logging

from celery import shared_task

from tenants.models import Tenant

from . import services, verification

logger = logging.getLogger(__name__)


def _tenant_ids() -> list[str]:
    return list(Tenant.objects.order_by("id").values_list("id", flat=True))


@shared_task(name="integrity.checkpoints")
def checkpoints() -> int:
    """Every minute: sign each tenant's tree that grew, and archive what is not yet."""
    signed = 0
    for tenant_id in _tenant_ids():
        signed += services.checkpoint_create(tenant_id=tenant_id) is not None
        services.checkpoints_archive(tenant_id=tenant_id)
    return signed


@shared_task(name="integrity.verify_all")
def verify_all() -> dict[str, int]:
    """The scheduled full verification: findings per tenant (each recorded as a
    CRITICAL event in that tenant's log)."""
    found = {}
    for tenant_id in _tenant_ids():
        problems = verification.tenant_verify_and_record(tenant_id=tenant_id)
        if problems:
            found[tenant_id] = len(problems)
    return found
