"""RFC 8725 refusals: each way a token can be wrong is its own test."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

pytestmark = pytest.mark.django_db

ME = "/api/v1/auth/me"
PROBE = Path(__file__).with_name("jwt_probe.py")


def claims(user, **overrides) -> dict:
    now = datetime.now(UTC)
    base = {
        "token_type": "access",
        "exp": now + timedelta(minutes=5),
        "iat": now,
        "jti": "test-jti",
        "user_id": str(user.pk),
        "aud": settings.SIMPLE_JWT["AUDIENCE"],
        "iss": settings.SIMPLE_JWT["ISSUER"],
        "hash_password": get_md5_hash_password(user.password),
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def forge(payload: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key or settings.SIMPLE_JWT["SIGNING_KEY"], algorithm=algorithm)


def call(token: str):
    return APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_correctly_forged_token_is_accepted(parties):
    # The control: the forging helper itself produces tokens the API accepts.
    assert call(forge(claims(parties.a_admin))).status_code == 200


def test_alg_none_is_refused(parties):
    token = jwt.encode(claims(parties.a_admin), None, algorithm="none")
    assert call(token).status_code == 401


def test_a_token_signed_with_another_key_is_refused(parties):
    assert call(forge(claims(parties.a_admin), key="x" * 48)).status_code == 401


def test_another_hmac_algorithm_is_refused(parties):
    assert call(forge(claims(parties.a_admin), algorithm="HS512")).status_code == 401


def test_an_expired_token_is_refused(parties):
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert call(forge(claims(parties.a_admin, exp=past))).status_code == 401


def test_a_not_yet_valid_token_is_refused(parties):
    future = datetime.now(UTC) + timedelta(minutes=1)
    assert call(forge(claims(parties.a_admin, nbf=future))).status_code == 401


def test_a_wrong_audience_is_refused(parties):
    assert call(forge(claims(parties.a_admin, aud="another-api"))).status_code == 401


def test_a_missing_audience_is_refused(parties):
    assert call(forge(claims(parties.a_admin, aud=None))).status_code == 401


def test_a_token_without_the_password_claim_is_refused(parties):
    assert call(forge(claims(parties.a_admin, hash_password=None))).status_code == 401


def test_a_wrong_issuer_is_refused(parties):
    assert call(forge(claims(parties.a_admin, iss="someone-else"))).status_code == 401


def test_a_refresh_token_is_not_an_access_token(parties):
    refresh = RefreshToken.for_user(parties.a_admin)
    assert call(str(refresh)).status_code == 401
    assert call(str(refresh.access_token)).status_code == 200


def test_tokens_of_a_deactivated_user_are_refused(parties):
    access = AccessToken.for_user(parties.a_admin)
    refresh = RefreshToken.for_user(parties.a_admin)
    parties.a_admin.is_active = False
    parties.a_admin.save()
    assert call(str(access)).status_code == 401
    response = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": str(refresh)}, format="json"
    )
    assert response.status_code == 401


def test_issued_tokens_carry_audience_issuer_and_short_lifetime(parties):
    payload = jwt.decode(
        str(AccessToken.for_user(parties.a_admin)),
        settings.SIMPLE_JWT["SIGNING_KEY"],
        algorithms=["HS256"],
        audience=settings.SIMPLE_JWT["AUDIENCE"],
        issuer=settings.SIMPLE_JWT["ISSUER"],
    )
    assert payload["exp"] - payload["iat"] <= 15 * 60


def _rsa_pair() -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def test_rs256_with_a_key_pair_from_the_environment(test_env):
    """The asymmetric option, configured from the environment as in production."""
    private, public = _rsa_pair()
    env = {
        **test_env,
        "JWT_ALGORITHM": "RS256",
        "JWT_PRIVATE_KEY": private,
        "JWT_PUBLIC_KEY": public,
    }
    result = subprocess.run(
        [sys.executable, str(PROBE)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "alg": "RS256",
        "good": "accepted",
        "other_key": "InvalidToken",
        "hs256_with_public_key": "InvalidToken",
    }
