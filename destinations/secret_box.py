"""A destination's signing secret, sealed at rest with the tenant's data key.

The secret must be readable (it signs every delivery), so it is encrypted,
not hashed: AES-256-GCM under the tenant's newest data key (encryption/,
ADR 0017), bound by the associated data to the tenant, the destination and
the purpose. Shredding the tenant's keys makes the secret unreadable, and the
destination's deliveries then fail and park.
"""

from __future__ import annotations

import secrets

from django.conf import settings

from encryption import envelope, keyring
from encryption.rows import open_value

_FIELD = "destination.secret"
_PLAIN = "plain:"  # ENCRYPTION_ENABLED=false (benchmarks only; production refuses it)


class SecretUnavailable(RuntimeError):
    """The sealed secret does not open (its key was shredded or does not verify)."""


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def seal_secret(tenant_id: str, destination_id: str, secret: str) -> str:
    if not settings.ENCRYPTION_ENABLED:
        return _PLAIN + secret
    key = keyring.active_key(tenant_id)
    aad = envelope.associated_data(tenant_id, destination_id, _FIELD, key.version)
    return envelope.seal(key.aead, key.version, secret.encode(), aad)


def open_secret(tenant_id: str, destination_id: str, sealed: str) -> str:
    if sealed.startswith(_PLAIN):
        return sealed[len(_PLAIN) :]
    opened = open_value(tenant_id, destination_id, _FIELD, sealed)
    if isinstance(opened, str):  # SHREDDED or UNDECRYPTABLE
        raise SecretUnavailable(f"the destination's secret is {opened}")
    return opened.decode()
