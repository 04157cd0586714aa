"""manage.py sqs_dead_letters: see what waits in the dead-letter queue, and redrive it.

A message lands there after SQS_MAX_RECEIVE_COUNT failed receives (for a
retention step: the job is `failed`, its error says which day and why). Fix
the cause, then `--redrive`: each message goes back to the main queue and is
deleted from the dead-letter queue only once it was sent (a crash in between
leaves a duplicate, which the tasks tolerate). On AWS the console's "Start DLQ
redrive" does the same.
"""

from __future__ import annotations

import base64
import json

from django.conf import settings
from django.core.management.base import BaseCommand

from auditlog_project.aws import sqs_client
from auditlog_project.queues import dead_letter_name, queue_name


def describe(body: str) -> str:
    """The task name and arguments of a Celery message, as far as they can be read."""
    try:
        envelope = json.loads(base64.b64decode(body))
        task = envelope.get("headers", {}).get("task", "?")
        args = json.loads(base64.b64decode(envelope["body"]))[0]
        return f"{task}{tuple(args)!r}"
    except (ValueError, KeyError, TypeError, IndexError):
        return f"(not a Celery message: {body[:60]!r})"


class Command(BaseCommand):
    help = "List the dead-letter queue's messages; --redrive sends them back to the main queue."

    def add_arguments(self, parser):
        parser.add_argument("--redrive", action="store_true", help="move them to the main queue")
        parser.add_argument("--limit", type=int, default=1000, help="redrive at most this many")

    def handle(self, *args, **options):
        client = sqs_client()
        logical = settings.SQS_DEFAULT_QUEUE
        dead = client.get_queue_url(QueueName=dead_letter_name(logical))["QueueUrl"]
        main = client.get_queue_url(QueueName=queue_name(logical))["QueueUrl"]
        seen = 0
        limit = options["limit"] if options["redrive"] else min(options["limit"], 10)
        while seen < limit:
            batch = client.receive_message(
                QueueUrl=dead,
                MaxNumberOfMessages=min(10, limit - seen),
                # Listing leaves them visible; redriving deletes them once sent.
                VisibilityTimeout=30 if options["redrive"] else 0,
                WaitTimeSeconds=1,
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                seen += 1
                self.stdout.write(f"{message['MessageId']}: {describe(message['Body'])}")
                if options["redrive"]:
                    client.send_message(QueueUrl=main, MessageBody=message["Body"])
                    client.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])
            if not options["redrive"]:
                break  # one batch (up to 10): listing again would show the same ones
        verb = "redriven to the main queue" if options["redrive"] else "in the dead-letter queue"
        self.stdout.write(f"{seen} message(s) {verb}")
