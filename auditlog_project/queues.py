"""The SQS queues behind Celery: names, the dead-letter queue, and a client.

The same code talks to AWS SQS in production and to a local SQS-compatible
endpoint (the moto server) in development and tests; only SQS_ENDPOINT_URL and
credentials differ.
"""

from __future__ import annotations

import json

from django.conf import settings

from .aws import sqs_client


def queue_name(logical: str) -> str:
    return f"{settings.SQS_QUEUE_PREFIX}{logical}"


def dead_letter_name(logical: str) -> str:
    return queue_name(logical + settings.SQS_DEAD_LETTER_SUFFIX)


def ensure_queues() -> dict[str, str]:
    """Create the main queue with a redrive policy to its dead-letter queue.

    Idempotent: creating an existing queue with the same attributes is a no-op.
    Returns {queue name: queue URL}.
    """
    client = sqs_client()
    logical = settings.SQS_DEFAULT_QUEUE
    dlq_url = client.create_queue(
        QueueName=dead_letter_name(logical),
        Attributes={"MessageRetentionPeriod": str(14 * 24 * 3600)},
    )["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.SQS_MAX_RECEIVE_COUNT}
    main_url = client.create_queue(QueueName=queue_name(logical))["QueueUrl"]
    client.set_queue_attributes(
        QueueUrl=main_url,
        Attributes={
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(settings.SQS_VISIBILITY_TIMEOUT),
        },
    )
    return {queue_name(logical): main_url, dead_letter_name(logical): dlq_url}


def queue_ready() -> None:
    """Raise if the main queue cannot be reached (used by /readyz)."""
    sqs_client().get_queue_url(QueueName=queue_name(settings.SQS_DEFAULT_QUEUE))
