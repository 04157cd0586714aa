"""Alerts tasks (Celery on SQS): thin calls into alerts/maintenance.py."""

from __future__ import annotations

from celery import shared_task

from . import maintenance


@shared_task(name="alerts.prune_matches")
def prune_matches() -> int:
    """Scheduled by beat (daily): drop counted matches no evaluation can need."""
    return maintenance.prune_matches()
