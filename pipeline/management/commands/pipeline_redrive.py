"""manage.py pipeline_redrive: hand dead batches to their consumer again.

Dead batches (a consumer failed on them PIPELINE_MAX_ATTEMPTS times) are
recorded in `pipeline_batchfailure` and announced on the dead-letter queue.
After fixing the cause, this hands them to the consumer once more (in commit
order; consumers are idempotent) and marks those it took as redriven. With
--list it only shows them. Messages on the dead-letter queue are records for
operators; `--purge-dlq` deletes those naming the batches redriven.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from auditlog_project.aws import sqs_client
from auditlog_project.queues import dead_letter_name
from pipeline import drain
from pipeline.consumers import by_name
from pipeline.models import BatchFailure


class Command(BaseCommand):
    help = "Hand the dead batches of a consumer (or all consumers) to it again."

    def add_arguments(self, parser):
        parser.add_argument("--consumer", help="only this consumer's dead batches")
        parser.add_argument("--batch", type=int, action="append", dest="batches")
        parser.add_argument("--list", action="store_true", help="show, change nothing")
        parser.add_argument("--purge-dlq", action="store_true")

    def handle(self, *args, **options) -> None:
        dead = BatchFailure.objects.filter(dead_at__isnull=False, redriven_at__isnull=True)
        if options["consumer"]:
            dead = dead.filter(consumer=options["consumer"])
        if options["batches"]:
            dead = dead.filter(batch_id__in=options["batches"])
        rows = list(dead.order_by("consumer", "batch_id"))
        for row in rows:
            self.stdout.write(
                f"{row.consumer} batch {row.batch_id} ({row.tenant_id}): "
                f"{row.attempts} attempts, {row.last_error[:120]}"
            )
        if options["list"] or not rows:
            self.stdout.write(f"{len(rows)} dead batch(es)")
            return
        redriven: set[int] = set()
        for name in sorted({row.consumer for row in rows}):
            try:
                consumer = by_name(name)
            except LookupError as exc:
                raise CommandError(str(exc)) from None
            ids = [row.batch_id for row in rows if row.consumer == name]
            done = drain.redrive(consumer, ids)
            self.stdout.write(f"{name}: {done}/{len(ids)} batch(es) handled")
            redriven |= set(
                BatchFailure.objects.filter(
                    consumer=name, batch_id__in=ids, redriven_at__isnull=False
                ).values_list("batch_id", flat=True)
            )
        if options["purge_dlq"]:
            self.stdout.write(f"{_purge_records(redriven)} dead-letter message(s) deleted")


def _purge_records(batch_ids: set[int]) -> int:
    client = sqs_client()
    url = client.get_queue_url(QueueName=dead_letter_name(settings.SQS_DEFAULT_QUEUE))["QueueUrl"]
    deleted = 0
    while True:
        found = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5)
        messages = found.get("Messages", [])
        if not messages:
            return deleted
        for message in messages:
            try:
                body = json.loads(message["Body"])
            except ValueError:
                continue
            if not isinstance(body, dict):
                continue
            if body.get("type") == "pipeline.dead_batch" and body.get("batch_id") in batch_ids:
                client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                deleted += 1
