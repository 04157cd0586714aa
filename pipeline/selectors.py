"""Reads for operators: each consumer's lag and the queues' depth."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from auditlog_project.aws import sqs_client
from auditlog_project.queues import dead_letter_name, queue_name

from .consumers import registered
from .models import BatchFailure, ConsumerState
from .watermark import Snapshot

LAG_SQL = """
    SELECT count(*), coalesce(sum(events), 0),
           extract(epoch FROM clock_timestamp() - min(created_at))
    FROM pipeline_batch
    WHERE xid >= pg_snapshot_xmin(%(mark)s::pg_snapshot)
      AND NOT pg_visible_in_snapshot(xid, %(mark)s::pg_snapshot)
"""


def consumer_lags() -> list[dict]:
    """Per registered consumer: committed batches and events not handled yet, the
    age of the oldest of them (seconds, null when none), dead batches not redriven."""
    states = {state.name: state for state in ConsumerState.objects.all()}
    answer = []
    for consumer in registered():
        state = states.get(consumer.name)
        mark = state.watermark if state else str(Snapshot.nothing())
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL, {"mark": mark})
            batches, events, oldest = cursor.fetchone()
        dead = BatchFailure.objects.filter(
            consumer=consumer.name, dead_at__isnull=False, redriven_at__isnull=True
        ).count()
        answer.append(
            {
                "consumer": consumer.name,
                "pending_batches": batches,
                "pending_events": int(events),
                "oldest_pending_seconds": round(float(oldest), 3) if oldest is not None else None,
                "watermark_updated_at": state.updated_at if state else None,
                "events_done": state.events_done if state else 0,
                "dead_batches": dead,
            }
        )
    return answer


_ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


def queue_depths() -> dict[str, dict]:
    """Messages waiting, in flight and delayed on the main queue and its dead-letter queue.

    SQS has no attribute for the age of its oldest message (that is a
    CloudWatch metric); `consumer_lags` gives the age that matters: of the
    oldest committed batch a consumer has not handled.
    """
    client = sqs_client()
    logical = settings.SQS_DEFAULT_QUEUE
    answer = {}
    for role, name in (("main", queue_name(logical)), ("dead_letter", dead_letter_name(logical))):
        url = client.get_queue_url(QueueName=name)["QueueUrl"]
        found = client.get_queue_attributes(QueueUrl=url, AttributeNames=_ATTRIBUTES)
        values = found["Attributes"]
        answer[role] = {
            "name": name,
            "waiting": int(values.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(values.get("ApproximateNumberOfMessagesNotVisible", 0)),
            "delayed": int(values.get("ApproximateNumberOfMessagesDelayed", 0)),
        }
    return answer


def queues_or_error() -> dict:
    """`queue_depths()`, or the error when SQS does not answer (status stays readable)."""
    try:
        return queue_depths()
    except Exception as exc:  # noqa: BLE001 - any failure is "cannot tell"
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def summary() -> dict:
    """One line for /readyz: per consumer, pending events and the oldest one's age."""
    return {
        lag["consumer"]: {
            "pending_events": lag["pending_events"],
            "oldest_pending_seconds": lag["oldest_pending_seconds"],
            "dead_batches": lag["dead_batches"],
        }
        for lag in consumer_lags()
    }
