"""Clients for the AWS services the project uses: SQS, S3 and KMS.

The same code talks to AWS in production and to one local endpoint (the moto
server, which answers SQS, S3 and KMS on one port) in development and tests;
only the endpoint settings and the credentials differ. Clients are cached per
(service, endpoint, region): boto3 clients are thread-safe and costly to build.
"""

from __future__ import annotations

from contextlib import suppress
from functools import lru_cache

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from django.conf import settings


@lru_cache(maxsize=16)
def _client(service: str, endpoint_url: str, region: str):
    config = Config(connect_timeout=2, read_timeout=30, retries={"max_attempts": 2})
    if service == "s3":
        # Presigned links (archive downloads) signed with SigV4, as every region accepts.
        config = config.merge(Config(signature_version="s3v4"))
    kwargs = {"region_name": region, "config": config}
    if endpoint_url:
        kwargs.update(endpoint_url=endpoint_url)
    if endpoint_url.startswith("http://"):
        # A local endpoint takes any credentials; over https (AWS, a VPC
        # endpoint) the instance role's are used.
        kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    return boto3.client(service, **kwargs)


def sqs_client():
    return _client("sqs", settings.SQS_ENDPOINT_URL, settings.AWS_REGION)


def s3_client():
    return _client("s3", settings.S3_ENDPOINT_URL, settings.AWS_REGION)


def kms_client():
    return _client("kms", settings.KMS_ENDPOINT_URL, settings.AWS_REGION)


# Buckets this process has found or created, per endpoint: archiving asks for
# its bucket once per tenant-day, and one HEAD per process is enough.
_ready_buckets: set[tuple[str, str]] = set()


def ensure_bucket(name: str) -> None:
    """Create a bucket if it does not exist (local endpoints and first runs).

    Asked once per process and bucket (HEAD, which needs no ListAllMyBuckets
    permission); a bucket removed afterwards is not created again here.
    """
    ready = (settings.S3_ENDPOINT_URL, name)
    if ready in _ready_buckets:
        return
    client = s3_client()
    try:
        client.head_bucket(Bucket=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
        _create_bucket(client, name)
    _ready_buckets.add(ready)


def _create_bucket(client, name: str) -> None:
    location = {}
    if settings.AWS_REGION != "us-east-1":
        location = {"CreateBucketConfiguration": {"LocationConstraint": settings.AWS_REGION}}
    with suppress(client.exceptions.BucketAlreadyOwnedByYou):  # another process was first
        client.create_bucket(Bucket=name, **location)
