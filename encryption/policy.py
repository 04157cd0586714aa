"""Which event fields a tenant encrypts: the choices, the default, the rules.

`before` and `after` are always encrypted (the snapshots hold the most
sensitive data); a tenant admin may add `metadata`, `message` and
`user_agent`. The full-text filter `q` reads `message`, `resource_type`,
`resource_id` and `metadata`: a tenant that encrypts `message` or `metadata`
gives up finding words in them (docs/architecture.md#data-protection).
"""

from __future__ import annotations

from collections.abc import Sequence

from auditlog_project.errors import Invalid

# In logs.models.Event column order.
ENCRYPTABLE: tuple[str, ...] = ("user_agent", "message", "before", "after", "metadata")
JSON_FIELDS = frozenset({"before", "after", "metadata"})
ALWAYS = ("before", "after")  # never sent to a search index (logs/search/documents.py)
DEFAULT: frozenset[str] = frozenset(ALWAYS)
# Fields the `q` full-text filter reads (logs/migrations/0001_initial.py, search_vector).
SEARCHED = frozenset({"message", "metadata"})


def policy_fields(tenant_id: str) -> frozenset[str]:
    """The fields the tenant encrypts (the default when it never chose)."""
    from .models import EncryptionPolicy

    chosen = EncryptionPolicy.objects.filter(tenant_id=tenant_id).values_list("fields", flat=True)
    found = chosen.first()
    return DEFAULT if found is None else frozenset(found)


def validated_fields(value: object) -> list[str]:
    """A policy's field list in column order; Invalid naming `fields` otherwise."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise Invalid({"encrypted_fields": ["Must be a list of field names."]})
    unknown = sorted({str(name) for name in value} - set(ENCRYPTABLE))
    if unknown:
        raise Invalid(
            {
                "encrypted_fields": [
                    f"Cannot encrypt {', '.join(unknown)}; choose from {', '.join(ENCRYPTABLE)}."
                ]
            }
        )
    missing = [name for name in ALWAYS if name not in value]
    if missing:
        raise Invalid({"encrypted_fields": [f"{' and '.join(missing)} are always encrypted."]})
    return [name for name in ENCRYPTABLE if name in value]
