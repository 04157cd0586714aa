"""Production settings: refuse DEBUG and short keys, harden transport.

Published and trivial keys are refused by base.py, in every environment.
"""

from .base import *  # noqa: F403
from .base import SECRET_KEY
from .env import ConfigError, env_bool, env_int

if DEBUG:  # noqa: F405
    raise ConfigError("DJANGO_DEBUG must be false in production")
if not MASKING_ENABLED:  # noqa: F405
    raise ConfigError("MASKING_ENABLED=false is for benchmarks only, never in production")
if len(SECRET_KEY) < 50:
    raise ConfigError("DJANGO_SECRET_KEY must be a real secret of 50+ characters in production")

if not ENCRYPTION_ENABLED:  # noqa: F405
    raise ConfigError("ENCRYPTION_ENABLED=false is for benchmarks only, never in production")
if not (ENCRYPTION_MASTER_KEY or ENCRYPTION_KMS_KEY_ID):  # noqa: F405
    raise ConfigError(
        "set ENCRYPTION_KMS_KEY_ID (a KMS key that wraps tenant data keys) or "
        "ENCRYPTION_MASTER_KEY (a generated secret of 32+ characters)"
    )

if not INTEGRITY_SIGNING_KEY:  # noqa: F405
    raise ConfigError(
        "set INTEGRITY_SIGNING_KEY (a generated secret of 32+ characters): checkpoints of "
        "the tamper-evident log are signed with a key derived from it"
    )

if DESTINATIONS_ALLOW_PRIVATE or not DESTINATIONS_REQUIRE_HTTPS:  # noqa: F405
    raise ConfigError(
        "DESTINATIONS_ALLOW_PRIVATE=true / DESTINATIONS_REQUIRE_HTTPS=false are for the "
        "local stack only: in production log streams go to public https URLs (SSRF guard)"
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
