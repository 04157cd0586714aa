"""Users and their refresh-token families. Platform administrators are
superusers; tenant roles live in tenants."""

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from auditlog_project import access


class RevokeReason(models.TextChoices):
    LOGOUT = "logout", "Logged out"
    REUSE = "reuse", "A rotated refresh token was used again"
    CREDENTIALS = "credentials", "Password changed or account deactivated"


class User(AbstractUser):
    """A person or service account that authenticates with a JWT.

    Its `username` is what audit events carry as `user_id` for the `user` role.
    Saving a new password or deactivating the account revokes every refresh
    token family of the user, whatever path saved it (the admin's forms,
    `changepassword`, a service); access tokens stop at once too (see
    docs/adr/0006-refresh-token-families.md).
    """

    class Meta:
        db_table = "accounts_user"

    # What access depends on: a change to any of these is announced through
    # auditlog_project.access (open streams, caches). The password's hash
    # changes with a new password, an unusable one, or a hash upgrade; each
    # changes the tokens' revoke claim, so each ends the access tokens.
    ACCESS_FIELDS = ("password", "is_active", "is_superuser", "username")

    @classmethod
    def from_db(cls, db, field_names, values):
        user = super().from_db(db, field_names, values)
        # Deferred fields are unknown (None): no change is detected for them.
        user._stored = {name: user.__dict__.get(name) for name in cls.ACCESS_FIELDS}
        return user

    def save(self, *args, **kwargs) -> None:
        # `_password` is set by set_password() and cleared for hash upgrades
        # (check_password), so it means a real password change.
        stored = getattr(self, "_stored", {})
        changed = [
            name
            for name in self.ACCESS_FIELDS
            if stored.get(name) is not None and stored[name] != getattr(self, name)
        ]
        deactivated = "is_active" in changed and not self.is_active
        password_changed = getattr(self, "_password", None) is not None
        existing = not self._state.adding
        super().save(*args, **kwargs)
        self._stored = {name: getattr(self, name) for name in self.ACCESS_FIELDS}
        if existing and (password_changed or deactivated):
            TokenFamily.objects.filter(user=self, revoked_at=None).update(
                revoked_at=timezone.now(), revoked_reason=RevokeReason.CREDENTIALS
            )
        if existing:
            self._announce(changed)

    def _announce(self, changed: list[str]) -> None:
        """One access_changed per saved change that bears on access."""
        reasons = {
            "password": access.PASSWORD,
            "is_active": access.ACTIVE,
            "is_superuser": access.SUPERUSER,
            "username": access.USERNAME,
        }
        for name in changed:
            access.access_changed(user_id=self.pk, tenant_id=None, reason=reasons[name])


class TokenFamily(models.Model):
    """The refresh tokens of one login, each issued by rotating the previous one.

    Revoked (logout, reuse of a rotated token, password change, deactivation),
    every token of the family is refused, the live one included. A family whose
    last token has expired is deleted at the user's next login.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_families"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="When the family's newest token expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=16, choices=RevokeReason.choices, blank=True)

    class Meta:
        verbose_name_plural = "token families"
        indexes = [models.Index(fields=["user", "expires_at"], name="token_family_user_expiry")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.pk}"


class IssuedRefreshToken(models.Model):
    """One refresh token of a family, stored as the SHA-256 of its `jti` only.

    Reading this table yields nothing that can be presented: a refresh token is
    a signed JWT, and neither it nor its id is kept. `used_at` is set once, by
    the one rotation that wins the row lock; a second use is reuse.
    """

    jti_sha256 = models.CharField(primary_key=True, max_length=64)
    family = models.ForeignKey(TokenFamily, on_delete=models.CASCADE, related_name="tokens")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.family_id}:{self.jti_sha256[:12]}"
