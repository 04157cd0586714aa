"""Development settings (`make run`, `manage.py`): local services on 127.0.0.1.

No key is written here: unless the environment gives them, the Django secret
key, the JWT key and the encryption master key come from RUN_DIR/secrets.env, generated once per
installation (settings/keys.py). DEBUG stays off unless DJANGO_DEBUG=true.
"""

import os
from pathlib import Path

from .env import instance_name
from .keys import installation_secrets

_BASE_DIR = Path(__file__).resolve().parent.parent.parent
# RUN_DIR as scripts/env.sh sets it: per instance, relative to the checkout.
RUN_DIR = _BASE_DIR / os.environ.get("RUN_DIR", f".run/{instance_name()}")
INSTALLATION_SECRETS_FILE = RUN_DIR / "secrets.env"
_KEYS = ("DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "ENCRYPTION_MASTER_KEY", "INTEGRITY_SIGNING_KEY")
if not all(os.environ.get(_name) for _name in _KEYS):
    for _name, _value in installation_secrets(INSTALLATION_SECRETS_FILE).items():
        if _name != "AUDITLOG_ADMIN_PASSWORD":
            os.environ.setdefault(_name, _value)
os.environ.setdefault("DATABASE_URL", f"postgres://auditlog_app@127.0.0.1:5432/{instance_name()}")
# As scripts/env.sh and scripts/bootstrap.py name them.
os.environ.setdefault(
    "DATABASE_OWNER_URL", f"postgres://auditlog_owner@127.0.0.1:5432/{instance_name()}"
)
os.environ.setdefault(
    "BACKUP_DATABASE_URL", f"postgres://auditlog_backup@127.0.0.1:5432/{instance_name()}"
)
# The moto server of this copy: PORT+4, as scripts/servers.py starts it.
os.environ.setdefault(
    "SQS_ENDPOINT_URL", f"http://127.0.0.1:{int(os.environ.get('PORT', 8000)) + 4}"
)

from .base import *  # noqa: E402,F403

WHITENOISE_USE_FINDERS = True
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}
