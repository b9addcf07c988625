"""CloudTrail Event history: the stack records the management events of the API calls it serves, and
`LookupEvents` answers from them (moto answers HTTP 500, NotImplementedError).

As the AWS docs say (CloudTrail API Reference, LookupEvents; User Guide, "Working with CloudTrail Event
history"), Event history holds *management* events of one Region, with or without a trail, read-only ones
included; it never holds data events (S3 object operations such as PutObject, SNS Publish, SQS messages…),
so LookupEvents does not return them: those reach a trail's selectors and EventBridge (cloudtrail.py) only.
Lookups: one attribute of EventId, EventName, ReadOnly, Username, EventSource, AccessKeyId (ResourceType and
ResourceName are refused: the stack does not record resources); StartTime/EndTime; MaxResults (1–50, default
50) and NextToken; newest first.

What differs from AWS, and why: calls are recorded as this stack sees them — identity `local`, no
requestParameters or responseElements (they can hold secrets); of S3's bucket-level calls only those in
S3_MANAGEMENT_EVENTS (moto names the others by IAM action, not API). Kept in memory, at most MAX_EVENTS events.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import re
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

import botocore.session
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import BaseResponse
from moto.s3.responses import S3Response

from flightpipe_local.patches import Patch

log = logging.getLogger(__name__)

MAX_EVENTS = 20_000  # ~2 KB each: a bound on memory, as AWS bounds Event history to 90 days
LOOKUP_ATTRIBUTES = {
    "EventId": "EventId",
    "EventName": "EventName",
    "ReadOnly": "ReadOnly",
    "Username": "Username",
    "EventSource": "EventSource",
    "AccessKeyId": "AccessKeyId",
}
UNRECORDED_ATTRIBUTES = {"ResourceType", "ResourceName"}
# Data events among the calls that reach the dispatcher (User Guide: "Logging data events", resource types).
DATA_EVENTS = {
    "sns": {"Publish", "PublishBatch"},
    "sqs": {
        "SendMessage",
        "SendMessageBatch",
        "ReceiveMessage",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    },
    "lambda": {"Invoke", "InvokeWithResponseStream"},
    "dynamodb": {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    },
}
# S3 bucket-level calls whose name moto records as the API's (not an IAM action name), all management events.
S3_MANAGEMENT_EVENTS = {
    "CreateBucket",
    "DeleteBucket",
    "HeadBucket",
    "GetBucketLocation",
    "PutBucketVersioning",
    "GetBucketVersioning",
    "PutBucketPolicy",
    "GetBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketTagging",
    "GetBucketTagging",
    "PutBucketAcl",
    "GetBucketAcl",
    "PutPublicAccessBlock",
    "GetPublicAccessBlock",
}
_READ_ONLY = re.compile(r"^(Get|List|Describe|Lookup|Head|Search|BatchGet|Check|Test)[A-Z]")
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]+)/")
_GLOBAL_SERVICES = {"iam": "us-east-1"}  # IAM's events are recorded in US East (N. Virginia)

_events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
_lock = threading.Lock()
_sequence = itertools.count(1)  # NextToken names the last event of a page: later events do not shift pages
_event_sources: dict[str, str] = {}
_moto_call_action = BaseResponse.call_action
_moto_bucket_response = S3Response.bucket_response


def patches() -> list[Patch]:
    """Event history (every management call is recorded) and LookupEvents, which moto does not implement."""
    return [
        Patch(BaseResponse, "call_action", _call_action_recorded),
        Patch(S3Response, "bucket_response", _bucket_response_recorded),
        Patch.new(CloudTrailResponse, "lookup_events", _lookup_events),
    ]


def _call_action_recorded(self: BaseResponse):
    answer = _moto_call_action(self)
    try:
        _record(self, self.boto3_service_name, self._get_action(), answer)
    except Exception:
        log.exception("could not record a management event")
    return answer


def _bucket_response_recorded(self: S3Response, *args, **kwargs):
    """S3 answers outside the dispatcher: record its bucket-level management calls by their API name."""
    answer = _moto_bucket_response(self, *args, **kwargs)
    action = self.data.get("Action") if isinstance(getattr(self, "data", None), dict) else None
    if action in S3_MANAGEMENT_EVENTS:
        try:
            _record(self, "s3", action, answer)
        except Exception:
            log.exception("could not record a management event")
    return answer


def _record(response: BaseResponse, service: str, action: str, answer: Any) -> None:
    if not service or not action or action in DATA_EVENTS.get(service, ()):
        return
    status, _, body = answer
    now = datetime.now(UTC)
    access_key = _ACCESS_KEY.search(response.headers.get("Authorization", "") or "")
    event = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "LOCALPRINCIPAL",
            "arn": f"arn:aws:iam::{response.current_account}:user/local",
            "accountId": response.current_account,
            "accessKeyId": access_key.group(1) if access_key else "",
            "userName": "local",
        },
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": _event_source(service),
        "eventName": action,
        "awsRegion": _GLOBAL_SERVICES.get(service, response.region),
        "sourceIPAddress": "127.0.0.1",
        "userAgent": response.headers.get("User-Agent", ""),
        "requestParameters": None,
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": bool(_READ_ONLY.match(action)),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": response.current_account,
        "eventCategory": "Management",
    }
    if int(status) >= 400:
        event["errorCode"], event["errorMessage"] = _error(body)
    with _lock:
        _events.append({"time": now, "event": event, "seq": next(_sequence)})


def _event_source(service: str) -> str:
    """`<endpoint prefix>.amazonaws.com`, e.g. states.amazonaws.com for Step Functions."""
    if service not in _event_sources:
        try:
            prefix = botocore.session.get_session().get_service_model(service).metadata["endpointPrefix"]
        except Exception:
            prefix = service
        _event_sources[service] = f"{prefix}.amazonaws.com"
    return _event_sources[service]


def _error(body: Any) -> tuple[str, str]:
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    try:
        parsed = json.loads(text)
        return str(parsed.get("__type", "")).rsplit("#", 1)[-1], str(parsed.get("message", parsed.get("Message", "")))
    except (ValueError, AttributeError):
        code = re.search(r"<Code>([^<]+)</Code>", text)
        message = re.search(r"<Message>([^<]*)</Message>", text)
        return (code.group(1) if code else "Unknown"), (message.group(1) if message else "")


# ---------------------------------------------------------------- LookupEvents


class _LookupError(JsonRESTError):
    code = 400


def _lookup_events(self: CloudTrailResponse) -> str:
    attributes = self._get_param("LookupAttributes") or []
    start, end = self._get_param("StartTime"), self._get_param("EndTime")
    max_results = self._get_param("MaxResults")
    category = self._get_param("EventCategory")
    if len(attributes) > 1:
        raise _LookupError("InvalidLookupAttributesException", "You can only specify one lookup attribute.")
    wanted = None
    if attributes:
        key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
        if key in UNRECORDED_ATTRIBUTES:
            raise _LookupError(
                "UnsupportedOperationException",
                f"The local stack does not record the resources of events, so it cannot look up by {key}: look up by "
                "EventName, EventSource, ReadOnly, Username, AccessKeyId or EventId.",
            )
        if key not in LOOKUP_ATTRIBUTES or value is None:
            raise _LookupError("InvalidLookupAttributesException", f"Lookup attribute key {key} is not valid.")
        wanted = (key, value)
    start_time, end_time = _as_time(start), _as_time(end)
    if start_time and end_time and start_time > end_time:
        raise _LookupError("InvalidTimeRangeException", "Start time must be before end time.")
    if max_results is not None and not 1 <= int(max_results) <= 50:
        raise _LookupError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    limit = int(max_results or 50)
    before = _before(self._get_param("NextToken"))

    region = self.region
    with _lock:
        recorded = list(_events)
    found = []
    if category is None:  # EventCategory=insight asks for Insights events: the stack records none
        for entry in reversed(recorded):
            event = entry["event"]
            if before is not None and entry["seq"] >= before:
                continue
            if event["awsRegion"] != region or event["recipientAccountId"] != self.current_account:
                continue
            if start_time and entry["time"] < start_time or end_time and entry["time"] > end_time:
                continue
            summary = _summary(entry)
            if wanted and summary[wanted[0]] != wanted[1]:
                continue
            found.append((entry["seq"], summary))
            if len(found) > limit:
                break
    answer: dict[str, Any] = {"Events": [summary for _, summary in found[:limit]]}
    if len(found) > limit:
        answer["NextToken"] = base64.urlsafe_b64encode(f"before:{found[limit - 1][0]}".encode()).decode()
    return json.dumps(answer)


def _summary(entry: dict[str, Any]) -> dict[str, Any]:
    event = entry["event"]
    return {
        "EventId": event["eventID"],
        "EventName": event["eventName"],
        "ReadOnly": "true" if event["readOnly"] else "false",
        "AccessKeyId": event["userIdentity"]["accessKeyId"],
        "EventTime": entry["time"].timestamp(),
        "EventSource": event["eventSource"],
        "Username": event["userIdentity"]["userName"],
        "Resources": [],
        "CloudTrailEvent": json.dumps(event),
    }


def _as_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _before(token: str | None) -> int | None:
    """The sequence number a NextToken continues below."""
    if not token:
        return None
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "before" and number.isdigit():
            return int(number)
    except ValueError:
        pass
    raise _LookupError("InvalidNextTokenException", "Invalid NextToken.")
