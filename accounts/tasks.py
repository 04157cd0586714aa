"""Periodic work of the accounts app."""

from celery import shared_task
from django.core.management import call_command


@shared_task(name="accounts.clear_sessions")
def clear_sessions() -> None:
    """Delete expired dashboard sessions (Django keeps them until asked)."""
    call_command("clearsessions")
