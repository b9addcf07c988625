"""Small, idempotent building blocks over boto3 that every notebook needs.

Notebooks make the real boto3 calls in plain sight (they teach AWS); these helpers only add what boto3 lacks:
"create unless it already exists", "delete unless already gone", and waiting with a bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

# Error codes AWS services use for "that thing already exists".
ALREADY_EXISTS = {
    "AlreadyExistsException",
    "BucketAlreadyOwnedByYou",
    "EntityAlreadyExists",
    "ResourceAlreadyExistsException",
    "ResourceExistsException",
    "ResourceInUseException",
    "StateMachineAlreadyExists",
    "TrailAlreadyExistsException",
    "ClusterAlreadyExists",
    "QueueAlreadyExists",
}
# ... and for "that thing is not there".
NOT_FOUND = {
    "EntityNotFoundException",
    "NoSuchBucket",
    "NoSuchEntity",
    "NoSuchKey",
    "ResourceNotFoundException",
    "StateMachineDoesNotExist",
    "TrailNotFoundException",
    "ClusterNotFound",
    "NotFound",
    "NotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
}


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def ensure(create: Callable[..., Any], **kwargs: Any) -> Any | None:
    """Call `create(**kwargs)`; if the resource already exists, return None instead of failing."""
    try:
        return create(**kwargs)
    except ClientError as exc:
        if error_code(exc) in ALREADY_EXISTS:
            return None
        raise


def delete_if_exists(delete: Callable[..., Any], **kwargs: Any) -> bool:
    """Call `delete(**kwargs)`; return False (not an error) when the resource is already gone."""
    try:
        delete(**kwargs)
        return True
    except ClientError as exc:
        if error_code(exc) in NOT_FOUND:
            return False
        raise


def wait_until(
    probe: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    what: str,
    timeout: float = 120.0,
    interval: float = 1.0,
) -> Any:
    """Poll `probe()` until `done(result)`; raise TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: still not done after {timeout:.0f}s (last state: {result!r:.300})")
        time.sleep(interval)


def listed(client, operation: str, key: str, **kwargs: Any) -> list:
    """Every item of a paginated List/Describe call (`key` of each page), not only the first page's."""
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key, [])]


def take_message(sqs, queue_url: str, matches: Callable[[str], bool], *, what: str, timeout: float) -> str:
    """Receive from the queue until a message whose body `matches`; delete it and return its body.

    One ReceiveMessage returns at most 10 messages, so in a busy inbox ours may be behind others. Each message we
    receive stays invisible for its visibility timeout (SQS Developer Guide, "Amazon SQS visibility timeout":
    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html), so
    the next receive returns others; the foreign ones are made visible again (timeout 0) as soon as we stop, for
    whoever waits for them.
    """
    held: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            received = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=int(max(1, min(20, remaining))),
                VisibilityTimeout=int(min(timeout + 60, 43200)),  # hidden until we release them (max 12 h)
            ).get("Messages", [])
            for message in received:
                if matches(message["Body"]):
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                    return message["Body"]
                held.append(message["ReceiptHandle"])
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what}: not in the queue {queue_url.rsplit('/', 1)[-1]} after {timeout:.0f}s "
                                   f"({len(held)} other message(s) seen and left there)")
    finally:
        for start in range(0, len(held), 10):  # put the others back, visible at once
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(held[start:start + 10])])


def ensure_bucket(s3, bucket: str, region: str) -> None:
    """Create `bucket` in `region` unless it is already ours (us-east-1 takes no LocationConstraint)."""
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    ensure(s3.create_bucket, **kwargs)


def empty_bucket(s3, bucket: str) -> int:
    """Delete every object version and delete marker in `bucket`; return how many were deleted."""
    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            keys = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True})
            deleted += len(keys)
    except ClientError as exc:
        if error_code(exc) not in NOT_FOUND:
            raise
    return deleted
