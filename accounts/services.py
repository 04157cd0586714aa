"""Writes on users and on their refresh tokens.

Refresh tokens are SimpleJWT tokens (signing and verification stay there);
which of them may still be exchanged is decided here, in TokenFamily and
IssuedRefreshToken rows (docs/adr/0006-refresh-token-families.md).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import cast

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from auditlog_project.errors import Conflict, Forbidden, Invalid, Message

from .models import IssuedRefreshToken, RevokeReason, TokenFamily, User  # AUTH_USER_MODEL

logger = logging.getLogger(__name__)


class TokenRefused(AuthenticationFailed):
    """401: the refresh token cannot be exchanged (the detail says why).

    DRF's authentication error: the domain errors have no 401 of their own.
    """

    default_code = "token_not_valid"


@transaction.atomic
def user_create(*, username: str, password: str, email: str = "") -> User:
    """Create an ordinary user (no tenant role yet); 409 if the username is taken.

    The password must pass the configured validators; it is stored hashed.
    """
    candidate = User(username=username, email=email)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise Invalid({"password": [Message(m) for m in exc.messages]}) from None
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"A user named {username!r} already exists.")
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise Conflict(f"A user named {username!r} already exists.") from None
    return candidate


def _digest(token: RefreshToken) -> str:
    return hashlib.sha256(str(token[api_settings.JTI_CLAIM]).encode()).hexdigest()


def _expiry(token: RefreshToken) -> datetime:
    return datetime_from_epoch(token["exp"])


def _pair(refresh: RefreshToken) -> dict:
    lifetime = cast(timedelta, api_settings.ACCESS_TOKEN_LIFETIME)
    return {
        "access": str(refresh.access_token),
        "refresh": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(lifetime.total_seconds()),
    }


def _record(family: TokenFamily, refresh: RefreshToken) -> RefreshToken:
    """Store `refresh` in `family` by the digest of its id (never the token)."""
    IssuedRefreshToken.objects.create(
        jti_sha256=_digest(refresh), family=family, expires_at=_expiry(refresh)
    )
    return refresh


@transaction.atomic
def token_pair_issue(*, user: User) -> dict:
    """Start a token family for `user` after a password login; return its first pair.

    Also deletes the user's families whose last token has expired, so the table
    holds live sessions and recent revocations only.
    """
    TokenFamily.objects.filter(user=user, expires_at__lt=timezone.now()).delete()
    refresh = RefreshToken.for_user(user)
    family = TokenFamily.objects.create(user=user, expires_at=_expiry(refresh))
    return _pair(_record(family, refresh))


def _decode(raw: str) -> RefreshToken:
    try:
        # Checks signature, algorithm, audience, issuer, expiry and type.
        return RefreshToken(raw)  # type: ignore[arg-type]  # the stubs omit str
    except TokenError as exc:
        raise TokenRefused(str(exc)) from None


def token_pair_rotate(*, refresh: str) -> dict:
    """Exchange a refresh token for a new pair; each token works exactly once.

    Guarantees:
    - of N concurrent calls with one token, exactly one succeeds: the token's
      row is locked (SELECT ... FOR UPDATE) and marked used in one transaction;
    - presenting a token that was already used revokes its family, so every
      token issued from it (the live one too) is refused from then on; that
      revocation is committed even though the call answers 401;
    - a token of a revoked family, of a deleted or deactivated user, or issued
      before the user's password changed is refused.
    """
    token = _decode(refresh)
    outcome = _rotate(token)
    if isinstance(outcome, str):
        raise TokenRefused(outcome)
    return outcome


@transaction.atomic
def _rotate(token: RefreshToken) -> dict | str:
    """The new pair, or why the token is refused (after committing a revocation)."""
    record = (
        IssuedRefreshToken.objects.select_for_update(of=("self",))
        .select_related("family__user")
        .filter(pk=_digest(token))
        .first()
    )
    if record is None or str(record.family.user_id) != str(token.get(api_settings.USER_ID_CLAIM)):
        return "Unknown refresh token."
    family, user = record.family, record.family.user
    if family.revoked_at is not None:
        return "This session has been revoked."
    if not user.is_active or token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(
        user.password
    ):
        return "No active account found for the given token."
    if record.used_at is not None:
        _revoke(family, RevokeReason.REUSE)
        logger.warning("refresh token reused: family %s of user %s revoked", family.pk, user.pk)
        return "This refresh token was already used; its session has been revoked."
    record.used_at = timezone.now()
    record.save(update_fields=["used_at"])
    rotated = _record(family, RefreshToken.for_user(user))
    family.expires_at = _expiry(rotated)
    family.save(update_fields=["expires_at"])
    return _pair(rotated)


def _revoke(family: TokenFamily, reason: str) -> None:
    TokenFamily.objects.filter(pk=family.pk, revoked_at=None).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )


@transaction.atomic
def token_family_revoke(*, refresh: str, user: User) -> None:
    """Log out: revoke the family of `refresh`, one of the caller's own tokens.

    400 if it is not a valid refresh token, 403 if it is another user's. A
    valid token that was never recorded (or whose family is gone) is already
    unusable, so there is nothing to revoke.
    """
    try:
        token = RefreshToken(refresh)  # type: ignore[arg-type]  # the stubs omit str
    except TokenError as exc:
        raise Invalid({"refresh": [Message(str(exc), "invalid_token")]}) from None
    if str(token.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        raise Forbidden("This refresh token belongs to another user.")
    record = IssuedRefreshToken.objects.filter(pk=_digest(token)).select_related("family").first()
    if record is not None:
        _revoke(record.family, RevokeReason.LOGOUT)
