"""UNLOAD's view of S3 on the local stack: objects written into the stack's own S3, in-process."""

from __future__ import annotations

from flightpipe_local.redshift.errors import EngineError
from flightpipe_local.redshift.unload import S3Writer


def writer(account_id: str) -> S3Writer:
    """An S3Writer that puts objects into the local stack's S3 of `account_id`."""

    def write(bucket: str, key: str, body: bytes) -> None:
        from moto.s3.models import s3_backends  # the stack's S3; imported when UNLOAD first writes

        backend = s3_backends[account_id]["global"]
        try:
            backend.get_bucket(bucket)
        except Exception:  # noqa: BLE001 - moto raises its own MissingBucket
            raise EngineError(f"The specified S3 bucket '{bucket}' does not exist") from None
        backend.put_object(bucket, key, body)

    return write
