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
