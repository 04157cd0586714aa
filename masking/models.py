"""A tenant's masking policy: its own rules on top of the built-in ones."""

from django.db import models

from tenants.models import Tenant


class MaskingPolicy(models.Model):
    """The tenant's extra masking rules, as its admin last saved them.

    Valid by construction: every write goes through masking.services, which
    validates the rules (masking.policy) and bumps `Tenant.masking_version` in
    the same transaction, so every process drops its compiled copy on its next
    request for the tenant. A tenant without a row has the built-in rules only.
    """

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    key_names = models.JSONField(default=list)  # extra key names, `*` at either end
    value_patterns = models.JSONField(default=list)  # [{"name", "pattern"}], RE2 syntax
    allow_keys = models.JSONField(default=list)  # keys the key-name rules leave alone
    mask_emails = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"masking policy of {self.tenant_id}"
