"""Expired dashboard sessions are deleted by the daily task."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.tasks import clear_sessions


@pytest.mark.django_db
def test_the_daily_task_deletes_expired_sessions_only():
    now = timezone.now()
    Session.objects.create(session_key="old", session_data="x", expire_date=now - timedelta(1))
    Session.objects.create(session_key="live", session_data="x", expire_date=now + timedelta(1))
    clear_sessions()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live"]
