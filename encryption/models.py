"""Per-tenant data keys and encryption policies (encryption at rest, ADR 0017).

Neither table holds anything readable without the master key: a data key is
stored only wrapped (encrypted) by the master key, local or in KMS. Every
query names its tenant; there is no row-level security here because nothing
in these rows is event data (docs/architecture.md#data-protection).
"""

from django.db import models

from tenants.models import Tenant


class EncryptionPolicy(models.Model):
    """Which event fields a tenant encrypts; no row means the default (before, after)."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    fields = models.JSONField()  # a list of field names (encryption.policy.ENCRYPTABLE)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant_id}: {', '.join(self.fields)}"


class DataKey(models.Model):
    """One version of a tenant's data key, wrapped by the master key.

    The newest version that is not shredded encrypts new events; every version
    decrypts the events it encrypted (rotation). `wrapped_by` names the master
    key that wrapped it (`local:<fingerprint>` or `kms:<key id>`): a re-wrap
    moves it to the current master key. Shredding empties `wrapped` and sets
    `shredded_at`: the row stays as a tombstone, so the events it encrypted
    read as shredded rather than corrupt, and version numbers are never reused.
    """

    pk = models.CompositePrimaryKey("tenant_id", "version")
    tenant_id = models.CharField(max_length=63)
    version = models.PositiveIntegerField()
    wrapped = models.BinaryField(null=True)
    wrapped_by = models.CharField(max_length=2048)
    created_at = models.DateTimeField(auto_now_add=True)
    shredded_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "encryption_data_key"

    def __str__(self) -> str:
        return f"{self.tenant_id}:v{self.version}"
