"""manage.py sqs_dead_letters: list the dead-letter queue, and redrive it."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command

from archival.tasks import retention_step
from auditlog_project.aws import sqs_client
from auditlog_project.queues import dead_letter_depth, queue_name

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("sqs_dead_letters", *args, stdout=out)
    return out.getvalue()


def drain(url: str) -> int:
    client, n = sqs_client(), 0
    while batch := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            n += 1
    return n


def test_lists_and_redrives_dead_letters(sqs_queues):
    dead = sqs_queues[queue_name("default" + settings.SQS_DEAD_LETTER_SUFFIX)]
    main = sqs_queues[queue_name("default")]
    drain(dead)
    drain(main)
    retention_step.apply_async(args=[987654321], queue="default" + settings.SQS_DEAD_LETTER_SUFFIX)
    listed = run()
    assert "archival.retention_step(987654321,)" in listed
    assert "1 message(s) in the dead-letter queue" in listed
    redriven = run("--redrive")
    assert "1 message(s) redriven to the main queue" in redriven
    assert dead_letter_depth() == 0
    assert drain(main) == 1  # back where a worker takes it (it would find no such step)
