"""The signature receivers verify: HMAC-SHA256 of "<timestamp>.<body>".

Headers: `X-Auditlog-Timestamp` (unix seconds) and `X-Auditlog-Signature:
sha256=<hex>`. A receiver recomputes the HMAC over the exact bytes received,
compares in constant time, and refuses timestamps too far from its clock
(a captured request cannot be replayed later).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Auditlog-Timestamp"
SIGNATURE_HEADER = "X-Auditlog-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(secret: str, headers, body: bytes, *, now: float, tolerance: int = 300) -> bool:
    """What a receiver does (used by the tests; a reference for integrators)."""
    try:
        timestamp = int(headers[TIMESTAMP_HEADER])
    except (KeyError, TypeError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER, ""))
