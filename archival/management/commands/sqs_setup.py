from django.core.management.base import BaseCommand

from auditlog_project.queues import ensure_queues


class Command(BaseCommand):
    help = "Create the SQS queues (main queue and its dead-letter queue) if absent."

    def handle(self, *args, **options):
        for name, url in ensure_queues().items():
            self.stdout.write(f"queue {name}: {url}")
