import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from tenants.models import Tenant

DEFAULT_PASSWORD = "admin-change-me"  # noqa: S105 - local demo only, printed to the console


class Command(BaseCommand):
    help = "Create the demo tenant and a platform administrator if they are absent."

    @transaction.atomic
    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", DEFAULT_PASSWORD)
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "admin@example.com")
        tenant, created = Tenant.objects.get_or_create(id="demo", defaults={"name": "Demo"})
        self.stdout.write(f"tenant {tenant.id}: {'created' if created else 'present'}")
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"platform admin {username}: present (password unchanged)")
            return
        User.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(
            f"platform admin {username}: created\n"
            f"  log in: curl -s -X POST http://127.0.0.1:{os.environ.get('PORT', '8000')}"
            f"/api/v1/auth/token -H 'Content-Type: application/json' "
            f'-d \'{{"username": "{username}", "password": "{password}"}}\''
        )
