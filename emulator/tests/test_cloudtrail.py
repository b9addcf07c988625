"""S3 writes covered by a logging trail reach EventBridge as CloudTrail events and start the pipeline."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from boto3.s3.transfer import TransferConfig

from flightpipe_local import cloudtrail

ROLE = "arn:aws:iam::123456789012:role/flightpipe"
PASS_THROUGH = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MB = 1024 * 1024


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Chain:
    """A data bucket, a trail over it, and the pipeline's rule → (state machine, SQS queue)."""

    def __init__(self, aws, selectors=None):
        """`selectors(bucket)` → PutEventSelectors arguments; default: writes under `raw/`."""
        self.aws = aws
        self.bucket = unique("landing")
        s3 = aws("s3")
        s3.create_bucket(Bucket=self.bucket)
        logs_bucket = unique("trail-logs")
        s3.create_bucket(Bucket=logs_bucket)
        selectors = selectors or (lambda bucket: basic(f"arn:aws:s3:::{bucket}/raw/"))
        self.trail = self.add_trail(logs_bucket, **selectors(self.bucket))

        sfn = aws("stepfunctions")
        self.machine = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(PASS_THROUGH), roleArn=ROLE)[
            "stateMachineArn"
        ]
        sqs = aws("sqs")
        self.queue = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {
            "source": ["aws.s3"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {
                "eventSource": ["s3.amazonaws.com"],
                "eventName": ["PutObject", "CompleteMultipartUpload", "CopyObject"],
                "requestParameters": {"bucketName": [self.bucket], "key": [{"prefix": "raw/"}]},
            },
        }
        rule = unique("on-upload")
        aws("events").put_rule(Name=rule, EventPattern=json.dumps(pattern))
        aws("events").put_targets(
            Rule=rule,
            Targets=[{"Id": "pipeline", "Arn": self.machine, "RoleArn": ROLE}, {"Id": "audit", "Arn": queue_arn}],
        )

    def add_trail(self, logs_bucket: str, **selectors) -> str:
        ct = self.aws("cloudtrail")
        name = unique("trail")
        ct.create_trail(Name=name, S3BucketName=logs_bucket)
        ct.put_event_selectors(TrailName=name, **selectors)
        ct.start_logging(Name=name)
        return name

    def executions(self) -> list[dict]:
        cloudtrail.drain()
        sfn = self.aws("stepfunctions")
        listed = sfn.list_executions(stateMachineArn=self.machine)["executions"]
        return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in listed]

    def messages(self) -> list[dict]:
        cloudtrail.drain()
        got = self.aws("sqs").receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def basic(*values: str) -> dict:
    """Basic event selectors: write data events of S3 objects whose ARN starts with one of `values`."""
    selector = {
        "ReadWriteType": "WriteOnly",
        "IncludeManagementEvents": False,
        "DataResources": [{"Type": "AWS::S3::Object", "Values": list(values)}],
    }
    return {"EventSelectors": [selector]}


@pytest.fixture
def chain(aws):
    return lambda selectors=None: Chain(aws, selectors)


def test_put_object_starts_one_execution_with_the_cloudtrail_event(aws, chain):
    c = chain()
    key = "raw/date=2024-01-05/flights.csv"
    body = b"Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay\nAA,10397,12478,3,-2\n"
    aws("s3").put_object(Bucket=c.bucket, Key=key, Body=body)

    (event,) = c.executions()
    assert event["source"] == "aws.s3" and event["detail-type"] == "AWS API Call via CloudTrail"
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert ISO_TIME.match(event["time"])
    assert event["resources"] == [f"arn:aws:s3:::{c.bucket}/{key}", f"arn:aws:s3:::{c.bucket}"]
    detail = event["detail"]
    assert detail["eventSource"] == "s3.amazonaws.com" and detail["eventName"] == "PutObject"
    assert detail["requestParameters"]["bucketName"] == c.bucket and detail["requestParameters"]["key"] == key
    assert detail["requestParameters"]["Host"].startswith(c.bucket + ".s3.")
    assert detail["additionalEventData"]["bytesTransferredIn"] == len(body)
    assert detail["awsRegion"] == "us-east-1" and ISO_TIME.match(detail["eventTime"])
    assert detail["readOnly"] is False and detail["managementEvent"] is False
    assert (detail["eventCategory"], detail["eventType"]) == ("Data", "AwsApiCall")
    assert detail["recipientAccountId"] == detail["userIdentity"]["accountId"] == "123456789012"
    assert {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{c.bucket}/{key}"} in detail["resources"]
    assert detail["sourceIPAddress"] and detail["eventID"] and detail["eventVersion"]

    (message,) = c.messages()  # the SQS target on the same rule gets the same event
    assert message["detail"]["eventID"] == detail["eventID"]


def test_writes_outside_the_selector_start_nothing(aws, chain):
    c = chain(lambda bucket: basic(f"arn:aws:s3:::{bucket}/raw/covered/"))
    aws("s3").put_object(Bucket=c.bucket, Key="raw/uncovered/flights.csv", Body=b"x")
    assert c.executions() == [] and c.messages() == []
    aws("s3").put_object(Bucket=c.bucket, Key="raw/covered/flights.csv", Body=b"x")
    assert [e["detail"]["requestParameters"]["key"] for e in c.executions()] == ["raw/covered/flights.csv"]


def test_stopped_or_deleted_trail_records_nothing(aws, chain):
    c = chain()
    ct = aws("cloudtrail")
    ct.stop_logging(Name=c.trail)
    aws("s3").put_object(Bucket=c.bucket, Key="raw/1.csv", Body=b"x")
    assert c.executions() == []
    ct.start_logging(Name=c.trail)
    aws("s3").put_object(Bucket=c.bucket, Key="raw/2.csv", Body=b"x")
    assert len(c.executions()) == 1
    ct.delete_trail(Name=c.trail)
    aws("s3").put_object(Bucket=c.bucket, Key="raw/3.csv", Body=b"x")
    assert [e["detail"]["requestParameters"]["key"] for e in c.executions()] == ["raw/2.csv"]


def test_selector_for_all_buckets_and_two_trails_give_one_event(aws, chain):
    c = chain()
    logs_bucket = unique("more-logs")
    aws("s3").create_bucket(Bucket=logs_bucket)
    everything = c.add_trail(logs_bucket, **basic("arn:aws:s3"))
    try:
        aws("s3").put_object(Bucket=c.bucket, Key="raw/once.csv", Body=b"x")
        assert len(c.executions()) == 1
    finally:
        aws("cloudtrail").delete_trail(Name=everything)  # it covers every bucket: keep it to this test


def test_advanced_selectors(chain, aws):
    def advanced(bucket: str) -> dict:
        fields = [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
            {"Field": "readOnly", "Equals": ["false"]},
            {"Field": "eventName", "Equals": ["PutObject", "CompleteMultipartUpload"]},
            {"Field": "resources.ARN", "StartsWith": [f"arn:aws:s3:::{bucket}/raw/"]},
            {"Field": "resources.ARN", "NotStartsWith": [f"arn:aws:s3:::{bucket}/raw/tmp/"]},
        ]
        return {"AdvancedEventSelectors": [{"Name": "landing writes", "FieldSelectors": fields}]}

    c = chain(advanced)
    s3 = aws("s3")
    s3.put_object(Bucket=c.bucket, Key="raw/tmp/skip.csv", Body=b"x")  # NotStartsWith
    s3.put_object(Bucket=c.bucket, Key="elsewhere/skip.csv", Body=b"x")  # StartsWith
    s3.put_object(Bucket=c.bucket, Key="raw/take.csv", Body=b"x")
    s3.copy_object(Bucket=c.bucket, Key="raw/copy.csv", CopySource={"Bucket": c.bucket, "Key": "raw/take.csv"})
    events = c.executions()  # the copy is not an eventName the selector takes
    assert [(e["detail"]["eventName"], e["detail"]["requestParameters"]["key"]) for e in events] == [
        ("PutObject", "raw/take.csv")
    ]


def test_management_only_trail_records_no_data_events(chain, aws):
    management = {"ReadWriteType": "All", "IncludeManagementEvents": True, "DataResources": []}
    c = chain(lambda bucket: {"EventSelectors": [management]})
    aws("s3").put_object(Bucket=c.bucket, Key="raw/x.csv", Body=b"x")
    assert c.executions() == []


def test_copy_object_is_recorded_as_copy(aws, chain):
    c = chain()
    s3 = aws("s3")
    s3.put_object(Bucket=c.bucket, Key="staging/flights.csv", Body=b"x")
    s3.copy_object(
        Bucket=c.bucket, Key="raw/flights.csv", CopySource={"Bucket": c.bucket, "Key": "staging/flights.csv"}
    )
    (event,) = c.executions()
    assert event["detail"]["eventName"] == "CopyObject"
    assert event["detail"]["requestParameters"]["x-amz-copy-source"] == f"{c.bucket}/staging/flights.csv"


def test_multipart_upload_file_is_recorded_as_complete_multipart_upload(aws, chain, tmp_path):
    c = chain()
    path = tmp_path / "flights.csv"
    path.write_bytes(b"x" * (5 * MB + 1024))
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, use_threads=False)
    aws("s3").upload_file(str(path), c.bucket, "raw/big/flights.csv", Config=config)
    (event,) = c.executions()
    assert event["detail"]["eventName"] == "CompleteMultipartUpload"
    assert event["detail"]["requestParameters"]["key"] == "raw/big/flights.csv"
    assert event["detail"]["requestParameters"]["uploadId"]


def test_versioned_bucket_reports_the_version(aws, chain):
    c = chain()
    s3 = aws("s3")
    s3.put_bucket_versioning(Bucket=c.bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=c.bucket, Key="raw/v.csv", Body=b"x")["VersionId"]
    (event,) = c.executions()
    assert event["detail"]["responseElements"]["x-amz-version-id"] == version


def test_events_keep_the_order_of_writes(aws, chain):
    c = chain()
    keys = [f"raw/{n:02d}.csv" for n in range(8)]
    for key in keys:
        aws("s3").put_object(Bucket=c.bucket, Key=key, Body=b"x")
    received = [m["detail"]["requestParameters"]["key"] for m in c.messages()]
    assert received == keys


def test_upload_to_started_execution_is_fast(aws, chain):
    c = chain()
    started = time.monotonic()
    aws("s3").put_object(Bucket=c.bucket, Key="raw/fast.csv", Body=b"x")
    sfn = aws("stepfunctions")
    while not sfn.list_executions(stateMachineArn=c.machine)["executions"]:
        assert time.monotonic() - started < 3
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("values", "covered"),
    [
        (["arn:aws:s3"], True),
        (["arn:aws:s3:::b/raw/"], True),
        (["arn:aws:s3:::b"], True),
        (["arn:aws:s3:::b2"], False),
        (["arn:aws:s3:::b/other/"], False),
    ],
)
def test_basic_selector_values(values, covered):
    selector = {"ReadWriteType": "All", "DataResources": [{"Type": "AWS::S3::Object", "Values": values}]}
    assert cloudtrail._basic_selector_covers(selector, "arn:aws:s3:::b/raw/x.csv") is covered
    read_only = {**selector, "ReadWriteType": "ReadOnly"}
    assert cloudtrail._basic_selector_covers(read_only, "arn:aws:s3:::b/raw/x.csv") is False


def test_presigned_put_is_recorded(aws, chain):
    import urllib.request

    c = chain()
    url = aws("s3").generate_presigned_url("put_object", Params={"Bucket": c.bucket, "Key": "raw/presigned.csv"})
    request = urllib.request.Request(url, data=b"a,b\n1,2\n", method="PUT")
    with urllib.request.urlopen(request) as response:  # noqa: S310 - the local stack's own URL
        assert response.status == 200
    (event,) = c.executions()
    assert (event["detail"]["eventName"], event["detail"]["requestParameters"]["key"]) == (
        "PutObject",
        "raw/presigned.csv",
    )


# ---------------------------------------------------------------- Event history: LookupEvents
# (CloudTrail API Reference, LookupEvents: management events only, one lookup attribute, 1–50 results.)


def lookup(aws, key: str, value: str, **extra) -> list[dict]:
    attributes = [{"AttributeKey": key, "AttributeValue": value}]
    return aws("cloudtrail").lookup_events(LookupAttributes=attributes, **extra)["Events"]


def test_lookup_events_finds_management_events_not_data_events(aws, chain):
    c = chain()
    c.aws("s3").put_object(Bucket=c.bucket, Key="raw/date=2024-01-05/flights.csv", Body=b"a,b\n1,2\n")
    assert len(c.executions()) == 1  # the data event reached EventBridge ...
    assert lookup(aws, "EventName", "PutObject") == []  # ... but Event history holds management events only

    started = lookup(aws, "EventName", "StartLogging")[0]  # newest first: this chain's trail
    assert started["EventSource"] == "cloudtrail.amazonaws.com"
    assert started["ReadOnly"] == "false"
    assert started["Username"] == "local"
    detail = json.loads(started["CloudTrailEvent"])
    assert detail["eventCategory"] == "Management" and detail["managementEvent"] is True
    assert detail["eventID"] == started["EventId"]
    assert lookup(aws, "EventId", started["EventId"]) == [started]

    buckets = lookup(aws, "EventName", "CreateBucket")  # bucket-level calls are management events
    assert buckets and {e["EventSource"] for e in buckets} == {"s3.amazonaws.com"}
    versioning = lookup(aws, "EventName", "GetBucketVersioning")
    aws("s3").get_bucket_versioning(Bucket=c.bucket)
    assert len(lookup(aws, "EventName", "GetBucketVersioning")) == len(versioning) + 1
    assert lookup(aws, "EventName", "GetBucketVersioning")[0]["ReadOnly"] == "true"

    rules = lookup(aws, "EventName", "PutRule")
    assert rules and {e["EventSource"] for e in rules} == {"events.amazonaws.com"}
    machines = lookup(aws, "EventSource", "states.amazonaws.com")
    assert "CreateStateMachine" in {e["EventName"] for e in machines}


def test_lookup_events_read_only_and_errors(aws):
    glue = aws("glue")
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_crawler(Name=unique("no-such-crawler"))
    (read,) = lookup(aws, "EventName", "GetCrawler", MaxResults=1)
    assert read["ReadOnly"] == "true"
    assert json.loads(read["CloudTrailEvent"])["errorCode"] == "EntityNotFoundException"
    assert all(e["ReadOnly"] == "true" for e in lookup(aws, "ReadOnly", "true"))


def test_lookup_events_by_access_key_and_time_range(local_stack):
    import boto3

    key = unique("AKIALOCAL").replace("-", "").upper()
    client = boto3.client(
        "sns", region_name=local_stack.ctx.region, aws_access_key_id=key, aws_secret_access_key="local"
    )
    before = time.time() - 1
    topic = client.create_topic(Name=unique("topic"))["TopicArn"]
    client.publish(TopicArn=topic, Message="a data event")  # SNS Publish is a data event: not in Event history
    trail = boto3.client("cloudtrail", region_name=local_stack.ctx.region)
    found = trail.lookup_events(LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key}])["Events"]
    assert [e["EventName"] for e in found] == ["CreateTopic"]
    assert found[0]["EventSource"] == "sns.amazonaws.com"
    in_range = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key}], StartTime=before
    )["Events"]
    assert in_range == found
    earlier = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "AccessKeyId", "AttributeValue": key}], EndTime=before
    )["Events"]
    assert earlier == []


def test_lookup_events_pages_newest_first(aws):
    sqs = aws("sqs")
    names = [unique("page") for _ in range(5)]
    for name in names:
        sqs.create_queue(QueueName=name)
    client = aws("cloudtrail")
    seen, token = [], None
    while len(seen) < 5:
        extra = {"NextToken": token} if token else {}
        answer = client.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateQueue"}], MaxResults=2, **extra
        )
        assert len(answer["Events"]) <= 2
        seen += answer["Events"]
        token = answer.get("NextToken")
        if not token:
            break
    assert len(seen) >= 5
    times = [e["EventTime"] for e in seen]
    assert times == sorted(times, reverse=True)
    assert len({e["EventId"] for e in seen}) == len(seen)


@pytest.mark.parametrize(
    "arguments, code",
    [
        (
            {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "A"}] * 2},
            "InvalidLookupAttributesException",
        ),
        (
            {"LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": "x"}]},
            "UnsupportedOperationException",
        ),
        ({"MaxResults": 51}, "InvalidMaxResultsException"),
        ({"StartTime": 2_000_000_000, "EndTime": 1_000_000_000}, "InvalidTimeRangeException"),
        ({"NextToken": "not-a-token"}, "InvalidNextTokenException"),
    ],
)
def test_lookup_events_refuses_what_aws_refuses(aws, arguments, code):
    client = aws("cloudtrail")
    with pytest.raises(client.exceptions.ClientError) as refused:
        client.lookup_events(**arguments)
    assert refused.value.response["Error"]["Code"] == code


def test_insights_events_are_not_recorded(aws):
    assert aws("cloudtrail").lookup_events(EventCategory="insight")["Events"] == []
