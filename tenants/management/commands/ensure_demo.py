"""`manage.py ensure_demo`: the demo tenant and the first platform administrator.

The administrator's password is never a published one: it comes from
DJANGO_SUPERUSER_PASSWORD, or from this installation's secrets file
(`RUN_DIR/secrets.env`, written by settings/keys.py), or is generated. It is
printed once, when the administrator is created; an administrator whose
password is a published one (an installation made before this rule) gets the
installation's password instead, printed once too.
"""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from auditlog_project.settings.keys import installation_secrets
from tenants.models import Tenant
from tenants.services import tenant_create

# Passwords that were once documented for `make run`: they work for anyone.
PUBLISHED_PASSWORDS = ("admin-change-me",)


def admin_password() -> tuple[str, str]:
    """The password to set, and where it is kept (for the message)."""
    if password := os.environ.get("DJANGO_SUPERUSER_PASSWORD"):
        if password in PUBLISHED_PASSWORDS:
            raise CommandError("DJANGO_SUPERUSER_PASSWORD is a published password; choose another")
        return password, "DJANGO_SUPERUSER_PASSWORD"
    path = getattr(settings, "INSTALLATION_SECRETS_FILE", None)
    if path is not None:
        return installation_secrets(path)["AUDITLOG_ADMIN_PASSWORD"], str(path)
    return secrets.token_urlsafe(24), "nowhere: note it now"


class Command(BaseCommand):
    help = "Create the demo tenant and a platform administrator if they are absent."

    @transaction.atomic
    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
        created = not Tenant.objects.filter(pk="demo").exists()
        if created:  # through the service: recorded as an admin event of the tenant
            tenant_create(id="demo", name="Demo")
        self.stdout.write(f"tenant demo: {'created' if created else 'present'}")
        user = get_user_model().objects.filter(username=username).first()
        if user is not None and not any(map(user.check_password, PUBLISHED_PASSWORDS)):
            self.stdout.write(f"platform admin {username}: present (password unchanged)")
            return
        password, kept = admin_password()
        if user is None:
            get_user_model().objects.create_superuser(
                username=username, email=email, password=password
            )
            what = "created"
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
            what = "had a published password; replaced"
        port = os.environ.get("PORT", "8000")
        self.stdout.write(
            f"platform admin {username}: {what}\n"
            f"  password (shown once; kept in {kept}): {password}\n"
            f"  log in: curl -s -X POST http://127.0.0.1:{port}/api/v1/auth/token "
            f"-H 'Content-Type: application/json' "
            f'-d \'{{"username": "{username}", "password": "<the password>"}}\''
        )
