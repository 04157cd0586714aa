"""Test settings: like local, but the test runner creates its own database.

The test database is created and migrated as the owner role; tests/conftest.py
then reconnects as the application role, so row-level security is in force.
TEST_RUN_ID keeps parallel runs on one machine apart: it goes into
AUDITLOG_INSTANCE, from which base.py derives the test database name and the
cache, Channels and queue prefixes. Keys are random per test session (and
passed on to the processes the tests start).
"""

import os
import secrets

RUN_ID = os.environ.get("TEST_RUN_ID", "")
_SUFFIX = f"_{RUN_ID}" if RUN_ID else ""

os.environ.setdefault("AUDITLOG_INSTANCE", f"auditlog_test{_SUFFIX}")
os.environ.setdefault("DATABASE_URL", "postgres://auditlog_owner@127.0.0.1:5432/auditlog")
os.environ.setdefault("SQS_ENDPOINT_URL", "http://127.0.0.1:9325")
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("JWT_SIGNING_KEY", secrets.token_urlsafe(48))
os.environ.setdefault("ENCRYPTION_MASTER_KEY", secrets.token_urlsafe(48))
os.environ.setdefault("INTEGRITY_SIGNING_KEY", secrets.token_urlsafe(48))
# Tests read far faster than any client should (stats exactness, fuzzing): the
# read limits are raised here; tests of the limits set their own. Writes,
# logins and the concurrent-export cap keep their defaults.
for _kind in ("READ", "STATS", "EXPORT"):
    for _who in ("USER", "TENANT"):
        os.environ.setdefault(f"RATE_LIMIT_{_kind}_PER_{_who}", "1000000/m")

from .local import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
