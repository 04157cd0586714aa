"""The queue path for real: a task goes through SQS to a separate worker process."""

import json
import time
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from archival.tasks import smoke
from auditlog_project.queues import dead_letter_name, queue_name, sqs_client
from tests.processes import celery_worker

pytestmark = pytest.mark.django_db(transaction=True)


def test_queue_names_carry_the_configured_prefix(sqs_queues):
    assert queue_name("default") == settings.SQS_QUEUE_PREFIX + "default"
    assert set(sqs_queues) == {queue_name("default"), dead_letter_name("default")}
    assert all("/" + settings.SQS_QUEUE_PREFIX in url for url in sqs_queues.values())


def test_main_queue_redrives_to_its_dead_letter_queue(sqs_queues):
    client = sqs_client()
    attributes = client.get_queue_attributes(
        QueueUrl=sqs_queues[queue_name("default")], AttributeNames=["All"]
    )["Attributes"]
    policy = json.loads(attributes["RedrivePolicy"])
    assert policy["deadLetterTargetArn"].endswith(":" + dead_letter_name("default"))
    assert int(policy["maxReceiveCount"]) == settings.SQS_MAX_RECEIVE_COUNT
    assert int(attributes["VisibilityTimeout"]) == settings.SQS_VISIBILITY_TIMEOUT


def test_a_real_worker_runs_a_task_sent_through_sqs(sqs_queues, test_env):
    token = uuid.uuid4().hex
    smoke.delay(token)  # goes to SQS; nothing runs it in this process
    time.sleep(0.5)
    assert cache.get(f"smoke:{token}") is None
    with celery_worker(test_env):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and cache.get(f"smoke:{token}") is None:
            time.sleep(0.25)
    assert cache.get(f"smoke:{token}") == "done"
