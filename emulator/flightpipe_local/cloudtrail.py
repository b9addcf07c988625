"""CloudTrail: S3 object writes become "AWS API Call via CloudTrail" events on EventBridge.

moto stores trails, event selectors and logging status but never records an event. Here every S3
object write (PutObject, PostObject, CopyObject, CompleteMultipartUpload) is checked against the
trails at the moment of the write; if a *logging* trail's data-event selectors cover the object, one
CloudTrail-shaped event goes onto the default event bus of the region where the write happened, so
EventBridge rules (and their Step Functions targets, see events.py) fire.

Decisions, where AWS leaves room:
* ONE event per write, however many trails cover it: each trail writes its own copy into its log
  files, but EventBridge gets the API call once; trails only decide whether data events are captured.
* A single-region trail covers writes to buckets in its region; a multi-region trail covers all.
* Delivery is off the request thread (one worker per stack, FIFO, working for that stack), so the S3 call
  returns at once and events keep the order of the writes. `drain()` waits until everything queued so far is
  delivered.
* Delivery lag: on AWS, CloudTrail delivers events to EventBridge "on a best effort basis" and can lag
  (EventBridge User Guide, "Events from AWS services": https://docs.aws.amazon.com/eventbridge/latest/userguide/
  eb-service-event.html). `FLIGHTPIPE_LOCAL_CLOUDTRAIL_DELAY_SECONDS` (float, default 0, read at each write)
  holds every event that long before it reaches the bus, so code that assumes prompt delivery fails locally too.
* `userAgent` is the writing request's User-Agent header in brackets, as CloudTrail records it for S3
  ("userAgent", CloudTrail record contents:
  https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html;
  S3's CloudTrail examples show e.g. "[aws-cli/2.18.5]").
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.cloudtrail.models import Trail, cloudtrail_backends
from moto.events.models import events_backends
from moto.s3.models import S3Backend
from moto.s3.responses import S3Response

from flightpipe_local import cloudtrail_history, context, settings
from flightpipe_local.context import StackContext
from flightpipe_local.patches import Patch

log = logging.getLogger(__name__)

DETAIL_TYPE = "AWS API Call via CloudTrail"
_WRITE_METHODS = {
    "put_object": "PutObject",
    "copy_object": "CopyObject",
    "complete_multipart_upload": "CompleteMultipartUpload",
}

DELAY_VARIABLE = "FLIGHTPIPE_LOCAL_CLOUDTRAIL_DELAY_SECONDS"

_in_write = threading.local()  # CopyObject / CompleteMultipartUpload call put_object: record the outer call
_request = threading.local()  # the S3 request being served on this thread (its User-Agent goes in the event)


def patches() -> list[Patch]:
    """Everything this module changes in moto (applied and reverted by `flightpipe_local.patches`)."""
    return [
        Patch(S3Backend, method, _recording(getattr(S3Backend, method), event_name))
        for method, event_name in _WRITE_METHODS.items()
    ] + [
        Patch(S3Response, "setup_class", _remembering_user_agent(S3Response.setup_class)),
        *cloudtrail_history.patches(),
    ]


class _Delivery:
    """A stack's CloudTrail → EventBridge queue and the worker that empties it, working for that stack."""

    def __init__(self) -> None:
        self.outbox: queue.Queue = queue.Queue()  # (monotonic time the event is due on the bus, delivery) | None
        self.last_due = 0.0  # when the newest queued event is due: drain() waits that long on top of its timeout
        self.worker: threading.Thread | None = None
        self.stopped = threading.Event()  # the stack stops: events not yet delivered are dropped


def _delivery(ctx: StackContext) -> _Delivery:
    return ctx.service("cloudtrail-delivery", _Delivery)


def install(ctx: StackContext) -> None:
    delivery = _delivery(ctx)
    if delivery.worker is None or not delivery.worker.is_alive():
        delivery.stopped.clear()
        with context.serving(ctx):  # the worker's deliveries (and the executions they start) are for ctx
            delivery.worker = context.StackThread(
                target=_deliver_forever, args=(delivery,), name="cloudtrail-to-eventbridge", daemon=True
            )
        delivery.worker.start()


def shutdown(ctx: StackContext) -> None:
    """Stop the stack's worker at once: a stopped stack starts no more executions from events still queued."""
    delivery = _delivery(ctx)
    delivery.stopped.set()
    if delivery.worker is not None and delivery.worker.is_alive():
        delivery.outbox.put(None)  # wakes the worker if it waits for an event
        delivery.worker.join(timeout=5)


def delivery_delay() -> float:
    """Seconds an event waits before it reaches EventBridge (FLIGHTPIPE_LOCAL_CLOUDTRAIL_DELAY_SECONDS)."""
    return settings.seconds(DELAY_VARIABLE, 0.0, "2.5")


def drain(timeout: float = 10.0, ctx: StackContext | None = None) -> None:
    """Wait until every event the stack recorded so far has been handed to EventBridge (delivery delay included)."""
    delivery = _delivery(ctx or context.current())
    done = threading.Event()
    delivery.outbox.put((0.0, done.set))
    pending = max(0.0, delivery.last_due - time.monotonic())
    if not done.wait(timeout + pending):
        raise TimeoutError("CloudTrail events still queued")


def _enqueue(job) -> None:
    """Queue one delivery on the current stack's queue, due after the delay configured at the moment of the write."""
    delivery = _delivery(context.current())
    due = time.monotonic() + delivery_delay()
    delivery.last_due = max(delivery.last_due, due)
    delivery.outbox.put((due, job))


def _remembering_user_agent(setup_class):
    @functools.wraps(setup_class)
    def setup_and_remember(response, request, *args, **kwargs):
        _request.user_agent = request.headers.get("User-Agent", "")
        return setup_class(response, request, *args, **kwargs)

    setup_and_remember.remembers_user_agent = True
    return setup_and_remember


def _recording(method, event_name: str):
    @functools.wraps(method)
    def write_and_record(backend: S3Backend, *args, **kwargs):
        if getattr(_in_write, "active", False):
            return method(backend, *args, **kwargs)
        _in_write.active = True
        try:
            result = method(backend, *args, **kwargs)
        finally:
            _in_write.active = False
        try:
            _record(backend, event_name, result, args, kwargs)
        except Exception:
            log.exception("could not record %s as a CloudTrail data event", event_name)
        return result

    write_and_record.records_data_events = True
    return write_and_record


def _record(backend: S3Backend, event_name: str, result: Any, args: tuple, kwargs: dict) -> None:
    request: dict[str, Any] = {}
    if event_name == "CopyObject":
        source = kwargs.get("src_key", args[0] if args else None)
        bucket_name = kwargs.get("dest_bucket_name", args[1] if len(args) > 1 else None)
        key_name = kwargs.get("dest_key_name", args[2] if len(args) > 2 else None)
        key = backend.get_object(bucket_name, key_name)
        request["x-amz-copy-source"] = f"{source.bucket_name}/{source.name}"
    elif event_name == "CompleteMultipartUpload":
        if result is None:  # parts missing: nothing was written
            return
        key, bucket_name, key_name = result, result.bucket_name, result.name
        request["uploadId"] = kwargs.get("multipart_id", args[1] if len(args) > 1 else None)
    else:
        key, bucket_name, key_name = result, result.bucket_name, result.name
        if kwargs.get("request_method") == "POST":
            event_name = "PostObject"
    bucket = backend.get_bucket(bucket_name)
    object_arn = f"arn:aws:s3:::{bucket_name}/{key_name}"
    facts = {"eventName": event_name, "resources.ARN": object_arn, "region": bucket.region_name}
    if not any(_trail_covers(trail, facts) for trail in _trails(backend.account_id)):
        return
    event = cloudtrail_event(backend.account_id, bucket, key, event_name, request)
    _enqueue(functools.partial(_put_on_bus, backend.account_id, bucket.region_name, event))


def cloudtrail_event(account_id: str, bucket, key, event_name: str, extra_request: dict) -> dict:
    """The PutEvents entry CloudTrail would send for this S3 data event."""
    now = datetime.now(UTC)
    object_arn = f"arn:aws:s3:::{bucket.name}/{key.name}"
    bucket_arn = f"arn:aws:s3:::{bucket.name}"
    response = {}
    if bucket.is_versioned and key is not None and key.version_id:
        response["x-amz-version-id"] = key.version_id
    if key is not None and key.encryption:
        response["x-amz-server-side-encryption"] = key.encryption
    detail = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "LOCALPRINCIPAL",
            "arn": f"arn:aws:iam::{account_id}:user/local",
            "accountId": account_id,
            "userName": "local",
        },
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "s3.amazonaws.com",
        "eventName": event_name,
        "awsRegion": bucket.region_name,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": f"[{getattr(_request, 'user_agent', '') or 'flightpipe-local'}]",  # S3 events bracket it
        "requestParameters": {
            "bucketName": bucket.name,
            "Host": f"{bucket.name}.s3.{bucket.region_name}.amazonaws.com",
            "key": key.name,
            **extra_request,
        },
        "responseElements": response or None,
        "additionalEventData": {
            "SignatureVersion": "SigV4",
            "AuthenticationMethod": "AuthHeader",
            "bytesTransferredIn": key.size if event_name in ("PutObject", "PostObject") else 0,
            "bytesTransferredOut": 0,
        },
        "requestID": uuid.uuid4().hex[:16].upper(),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "resources": [
            {"type": "AWS::S3::Object", "ARN": object_arn},
            {"accountId": account_id, "type": "AWS::S3::Bucket", "ARN": bucket_arn},
        ],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account_id,
        "eventCategory": "Data",
    }
    return {
        "Source": "aws.s3",
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail),
        "Resources": [object_arn, bucket_arn],
        "Time": now.timestamp(),
    }


def _trails(account_id: str) -> list[Trail]:
    return [trail for backend in cloudtrail_backends[account_id].values() for trail in backend.trails.values()]


def _trail_covers(trail: Trail, facts: dict[str, str]) -> bool:
    if not trail.status.is_logging:
        return False
    if not trail.is_multi_region and trail.region_name != facts["region"]:
        return False
    if trail.event_selectors:  # basic selectors replace advanced ones (and vice versa) on AWS
        return any(_basic_selector_covers(selector, facts["resources.ARN"]) for selector in trail.event_selectors)
    return any(_advanced_selector_covers(selector, facts) for selector in trail.advanced_event_selectors)


def _basic_selector_covers(selector: dict, object_arn: str) -> bool:
    if selector.get("ReadWriteType", "All") not in ("All", "WriteOnly"):
        return False
    for resource in selector.get("DataResources", []):
        if resource.get("Type") != "AWS::S3::Object":
            continue
        for value in resource.get("Values", []):
            if value.rstrip(":") in ("arn:aws:s3", "arn:aws:s3:::"):  # all buckets
                return True
            if "/" not in value:  # "arn:aws:s3:::bucket" means the whole bucket
                value += "/"
            if object_arn.startswith(value):
                return True
    return False


def _advanced_selector_covers(selector: dict, facts: dict[str, str]) -> bool:
    """All field selectors must hold; within one, any positive condition and no negative one."""
    values = {
        "eventCategory": "Data",
        "resources.type": "AWS::S3::Object",
        "readOnly": "false",
        "eventSource": "s3.amazonaws.com",
        "eventType": "AwsApiCall",
        "eventName": facts["eventName"],
        "resources.ARN": facts["resources.ARN"],
    }
    for field in selector.get("FieldSelectors", []):
        value = values.get(field.get("Field"))
        positive = [
            *(value == v for v in field.get("Equals", [])),
            *(value is not None and value.startswith(v) for v in field.get("StartsWith", [])),
            *(value is not None and value.endswith(v) for v in field.get("EndsWith", [])),
        ]
        negative = [
            *(value == v for v in field.get("NotEquals", [])),
            *(value is not None and value.startswith(v) for v in field.get("NotStartsWith", [])),
            *(value is not None and value.endswith(v) for v in field.get("NotEndsWith", [])),
        ]
        if (positive and not any(positive)) or any(negative):
            return False
    return True


def _put_on_bus(account_id: str, region: str, entry: dict) -> None:
    result = events_backends[account_id][region].put_events([entry])
    if result and "ErrorCode" in result[0]:
        log.warning("EventBridge refused a CloudTrail event: %s", result[0])


def _deliver_forever(delivery: _Delivery) -> None:
    while (item := delivery.outbox.get()) is not None:
        due, job = item
        # FIFO: a later event never overtakes an earlier one
        if delivery.stopped.wait(max(0.0, due - time.monotonic())):
            return
        try:
            job()
        except Exception:
            log.exception("delivering a CloudTrail event failed")
