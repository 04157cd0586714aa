"""The SQS queues behind Celery: names, the dead-letter queue, and a client.

The same code talks to AWS SQS in production and to a local SQS-compatible
endpoint (the moto server) in development and tests; only SQS_ENDPOINT_URL and
credentials differ.
"""

from __future__ import annotations

import json
import logging

from celery.worker.request import Request
from django.conf import settings

from .aws import sqs_client

logger = logging.getLogger(__name__)


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


def queue_ready() -> dict:
    """Raise if the main queue cannot be reached (used by /readyz); else the detail
    /readyz shows: how many messages wait in the dead-letter queue (not a readiness
    failure: work that failed SQS_MAX_RECEIVE_COUNT times, for an operator)."""
    sqs_client().get_queue_url(QueueName=queue_name(settings.SQS_DEFAULT_QUEUE))
    return {"dead_letter_messages": dead_letter_depth()}


def dead_letter_depth() -> int:
    """Messages waiting in the dead-letter queue (shown by /readyz; see operations.md)."""
    client = sqs_client()
    url = client.get_queue_url(QueueName=dead_letter_name(settings.SQS_DEFAULT_QUEUE))["QueueUrl"]
    attributes = client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


class RedeliverLater(Request):
    """A task's failure hides its SQS message for a backoff instead of SQS's full
    visibility timeout: JOBS_RETRY_BACKOFF_SECONDS times the receive count, so
    a message that keeps failing reaches the dead-letter queue after
    SQS_MAX_RECEIVE_COUNT receives in minutes, not hours. For tasks declared with
    acks_late and acks_on_failure_or_timeout=False (the message is left to SQS)."""

    def on_failure(self, exc_info, send_failed_event=True, return_ok=False):
        try:
            _hide_for_backoff(self.message.delivery_info)
        except Exception:  # noqa: BLE001 - the full visibility timeout applies then
            logger.warning("could not shorten the failed message's visibility", exc_info=True)
        return super().on_failure(exc_info, send_failed_event, return_ok)


def _hide_for_backoff(delivery_info: dict) -> None:
    sqs_message = delivery_info.get("sqs_message")
    if not sqs_message:
        return  # not from SQS (eager runs in tests)
    received = int(sqs_message.get("Attributes", {}).get("ApproximateReceiveCount", 1))
    sqs_client().change_message_visibility(
        QueueUrl=delivery_info["sqs_queue"],
        ReceiptHandle=sqs_message["ReceiptHandle"],
        VisibilityTimeout=min(settings.JOBS_RETRY_BACKOFF_SECONDS * received, 43200),
    )
