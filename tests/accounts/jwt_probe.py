"""Run in a subprocess with JWT_ALGORITHM=RS256 and a key pair in the environment.

Prints one JSON line: the algorithm of an issued token, and the verdict of the
authentication class on a good token, a token signed by another RSA key, and an
HS256 token whose HMAC key is the public key (algorithm confusion).
"""

import base64
import hashlib
import hmac
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auditlog_project.settings.test")

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from django.conf import settings  # noqa: E402
from rest_framework_simplejwt.authentication import JWTAuthentication  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from accounts.models import User  # noqa: E402


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def confused(payload: dict) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(payload).encode())
    key = settings.SIMPLE_JWT["VERIFYING_KEY"].encode()
    signature = b64(hmac.new(key, f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"


def verdict(token: str) -> str:
    try:
        JWTAuthentication().get_validated_token(token.encode())
    except Exception as exc:  # noqa: BLE001 - the exception type is the verdict
        return type(exc).__name__
    return "accepted"


good = str(AccessToken.for_user(User(pk=1, username="probe")))
payload = jwt.decode(good, options={"verify_signature": False})
other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
print(
    json.dumps(
        {
            "alg": jwt.get_unverified_header(good)["alg"],
            "good": verdict(good),
            "other_key": verdict(jwt.encode(payload, other_key, algorithm="RS256")),
            "hs256_with_public_key": verdict(confused(payload)),
        }
    )
)
