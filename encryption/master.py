"""The master key: wraps and unwraps tenant data keys, locally or in KMS.

- Local: `ENCRYPTION_MASTER_KEY` (a secret string from the environment or the
  installation's secrets file; never in the repository). The AES-256-GCM key is
  derived from it with HKDF-SHA256; its id is `local:<fingerprint>`.
  `ENCRYPTION_RETIRED_MASTER_KEYS` (comma list) still unwrap, for a re-wrap.
- KMS: `ENCRYPTION_KMS_KEY_ID` (a key id, ARN or alias). When set, new data
  keys are wrapped by KMS (`Encrypt` with an encryption context naming the
  tenant and key version), and the local key only unwraps what it wrapped.

Associated data (local) and the encryption context (KMS) bind a wrapped key
to its tenant and version: a wrapped key copied to another row does not unwrap.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache

from botocore.exceptions import BotoCoreError, ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from auditlog_project.aws import kms_client

LOCAL = "local:"
KMS = "kms:"
NONCE_BYTES = 12


class MasterKeyError(Exception):
    """No master key is configured, or it cannot unwrap a data key (message names which)."""


@lru_cache(maxsize=8)
def _local_key(secret: str) -> tuple[str, AESGCM]:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"auditlog master key v1"
    ).derive(secret.encode())
    fingerprint = hashlib.sha256(derived).hexdigest()[:16]
    return LOCAL + fingerprint, AESGCM(derived)


def _local_keys() -> dict[str, AESGCM]:
    secrets = [settings.ENCRYPTION_MASTER_KEY, *settings.ENCRYPTION_RETIRED_MASTER_KEYS]
    return dict(_local_key(secret) for secret in secrets if secret)


def current_id() -> str:
    """The id of the master key that wraps new data keys (and a re-wrap's target)."""
    if settings.ENCRYPTION_KMS_KEY_ID:
        return KMS + settings.ENCRYPTION_KMS_KEY_ID
    if settings.ENCRYPTION_MASTER_KEY:
        return _local_key(settings.ENCRYPTION_MASTER_KEY)[0]
    raise MasterKeyError("no master key: set ENCRYPTION_MASTER_KEY or ENCRYPTION_KMS_KEY_ID")


def _context(tenant_id: str, version: int) -> dict[str, str]:
    return {"purpose": "auditlog-data-key", "tenant_id": tenant_id, "key_version": str(version)}


def _aad(tenant_id: str, version: int) -> bytes:
    return f"auditlog-data-key|{tenant_id}|{version}".encode()


def wrap(data_key: bytes, tenant_id: str, version: int) -> tuple[bytes, str]:
    """(wrapped key, id of the master key that wrapped it) with the current master key."""
    master_id = current_id()
    if master_id.startswith(KMS):
        try:
            answer = kms_client().encrypt(
                KeyId=master_id.removeprefix(KMS),
                Plaintext=data_key,
                EncryptionContext=_context(tenant_id, version),
            )
        except (BotoCoreError, ClientError) as error:
            raise MasterKeyError(f"KMS refused to wrap a data key: {error}") from None
        return answer["CiphertextBlob"], master_id
    nonce = os.urandom(NONCE_BYTES)
    local = _local_keys()[master_id]
    return nonce + local.encrypt(nonce, data_key, _aad(tenant_id, version)), master_id


def unwrap(wrapped: bytes, master_id: str, tenant_id: str, version: int) -> bytes:
    """The data key; MasterKeyError when its master key is unknown or refuses."""
    if master_id.startswith(KMS):
        try:
            answer = kms_client().decrypt(
                KeyId=master_id.removeprefix(KMS),
                CiphertextBlob=bytes(wrapped),
                EncryptionContext=_context(tenant_id, version),
            )
        except (BotoCoreError, ClientError) as error:
            raise MasterKeyError(f"KMS refused to unwrap {tenant_id} v{version}: {error}") from None
        return answer["Plaintext"]
    local = _local_keys().get(master_id)
    if local is None:
        raise MasterKeyError(
            f"{tenant_id} v{version} is wrapped by {master_id}, which is not configured "
            "(ENCRYPTION_MASTER_KEY or ENCRYPTION_RETIRED_MASTER_KEYS)"
        )
    wrapped = bytes(wrapped)
    try:
        return local.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _aad(tenant_id, version))
    except InvalidTag:
        raise MasterKeyError(f"{tenant_id} v{version} does not unwrap with {master_id}") from None
