"""Tenants and the roles users hold in them."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from .choices import Role

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


class Tenant(models.Model):
    """A customer whose audit events are isolated from every other tenant's.

    The slug `id` is chosen at creation and never changes: events, channel
    groups, queue messages and archive paths all carry it.
    """

    id = models.CharField(
        primary_key=True,
        max_length=63,
        validators=[RegexValidator(TENANT_ID_PATTERN, "Tenant id must be a lowercase slug.")],
    )
    name = models.CharField(max_length=200)
    retention_days = models.PositiveIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(36500)]
    )
    # Retention archives a day's events to cold storage, reads them back and
    # verifies them before deleting them; off: expired events are only deleted.
    archive_before_delete = models.BooleanField(default=True, db_default=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every change of the tenant's masking policy (masking.services):
    # requests load this row anyway, so a process knows its compiled policy is
    # stale without another query (masking.selectors.masker_for).
    masking_version = models.PositiveIntegerField(db_default=0, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.id

    def clean(self) -> None:
        """The platform's retention bounds, for forms (the admin); the API's
        services check the same rule."""
        problem = retention_days_problem(self.retention_days)
        if problem:
            raise ValidationError({"retention_days": problem})


def retention_days_problem(days: int) -> str | None:
    """Why `days` is outside the platform's bounds (RETENTION_MIN_DAYS..MAX_DAYS), or None."""
    low, high = settings.RETENTION_MIN_DAYS, settings.RETENTION_MAX_DAYS
    if low <= days <= high:
        return None
    return f"retention_days must be between {low} and {high} days (platform bounds); got {days}."


class Membership(models.Model):
    """A user's single role in one tenant (unique per user and tenant)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")
        ]
        ordering = ["tenant_id", "user_id"]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.tenant_id}:{self.role}"
