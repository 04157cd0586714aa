"""The local endpoint answers S3 and KMS beside SQS, through auditlog_project.aws."""

import uuid

from auditlog_project import aws


def test_bucket_created_once_and_objects_round_trip(sqs_endpoint):
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    aws.ensure_bucket(bucket)
    aws.ensure_bucket(bucket)  # a second call finds it and creates nothing
    client = aws.s3_client()
    client.put_object(Bucket=bucket, Key="t/a.txt", Body=b"payload")
    assert client.get_object(Bucket=bucket, Key="t/a.txt")["Body"].read() == b"payload"
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert names.count(bucket) == 1


def test_kms_key_encrypts_and_decrypts(sqs_endpoint):
    kms = aws.kms_client()
    key_id = kms.create_key(Description="test")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"data key")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"data key"


def test_a_bucket_is_asked_for_once_per_process(sqs_endpoint):
    """Archiving ensures its bucket per tenant-day: only the first call reaches S3."""
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    calls: list[str] = []
    events = aws.s3_client().meta.events

    def count(event_name, **kwargs):
        calls.append(event_name.rsplit(".", 1)[-1])

    events.register("before-call.s3", count)
    try:
        for _ in range(3):
            aws.ensure_bucket(bucket)
    finally:
        events.unregister("before-call.s3", count)
    assert calls == ["HeadBucket", "CreateBucket"]
    assert aws.s3_client().head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
