"""Writes on users."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from auditlog_project.problems import Conflict

from .models import User  # AUTH_USER_MODEL


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "") -> User:
    """Create an ordinary user (no tenant role yet); 409 if the username is taken.

    The password must pass the configured validators; it is stored hashed.
    """
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from None
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"A user named {username!r} already exists.")
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise Conflict(f"A user named {username!r} already exists.") from None
    return candidate
