"""Reads of tenants' encryption settings: the policy and the key versions (never key material)."""

from __future__ import annotations

from .models import DataKey
from .policy import ENCRYPTABLE, SEARCHED, policy_fields


def encryption_settings(*, tenant_id: str) -> dict:
    """The tenant's encryption policy and its key versions, as the API shows them."""
    fields = policy_fields(tenant_id)
    keys = list(DataKey.objects.filter(tenant_id=tenant_id).order_by("version"))
    current = max((key.version for key in keys if key.wrapped is not None), default=0)
    return {
        "encrypted_fields": [name for name in ENCRYPTABLE if name in fields],
        "encryptable": list(ENCRYPTABLE),
        "not_searchable": [name for name in ENCRYPTABLE if name in fields and name in SEARCHED],
        "keys": [
            {
                "version": key.version,
                "state": _state(key, current),
                "created_at": key.created_at,
                "shredded_at": key.shredded_at,
            }
            for key in keys
        ],
    }


def _state(key: DataKey, current: int) -> str:
    if key.wrapped is None:
        return "shredded"
    return "current" if key.version == current else "previous"
