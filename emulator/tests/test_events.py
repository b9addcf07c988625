"""EventBridge on the local stack delivers to Step Functions, SQS and Logs targets as AWS does."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from flightpipe_local import events

ROLE = "arn:aws:iam::123456789012:role/flightpipe-events"
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PASS_THROUGH = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Bus:
    """A rule (pattern on a unique source) plus helpers to add targets and read what they got."""

    def __init__(self, aws, state: str = "ENABLED"):
        self.aws = aws
        self.source = unique("flightpipe.test")
        self.rule = unique("rule")
        aws("events").put_rule(Name=self.rule, EventPattern=json.dumps({"source": [self.source]}), State=state)

    def add_state_machine(self, **target) -> str:
        arn = self.aws("stepfunctions").create_state_machine(
            name=unique("sm"), definition=json.dumps(PASS_THROUGH), roleArn=ROLE
        )["stateMachineArn"]
        self._target(arn, **target)
        return arn

    def add_queue(self, **target) -> str:
        sqs = self.aws("sqs")
        url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._target(arn, **target)
        return url

    def _target(self, arn: str, **target) -> None:
        self.aws("events").put_targets(Rule=self.rule, Targets=[{"Id": unique("t"), "Arn": arn, **target}])

    def put(self, detail: dict, **entry) -> dict:
        response = self.aws("events").put_events(
            Entries=[{"Source": self.source, "DetailType": "Test Event", "Detail": json.dumps(detail), **entry}]
        )
        assert response["FailedEntryCount"] == 0
        return response

    def execution_inputs(self, state_machine_arn: str) -> list:
        sfn = self.aws("stepfunctions")
        executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
        return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"]) for e in executions]

    def messages(self, queue_url: str) -> list[str]:
        got = self.aws("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        return [message["Body"] for message in got.get("Messages", [])]


def test_state_machine_target_gets_the_event(aws):
    bus = Bus(aws)
    machine = bus.add_state_machine()
    detail = {"bucket": "b", "key": f"raw/{uuid.uuid4().hex}.csv"}
    event_id = bus.put(detail, Resources=["arn:aws:s3:::b"])["Entries"][0]["EventId"]

    (received,) = bus.execution_inputs(machine)
    assert set(received) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }
    assert received["id"] == event_id
    assert received["source"] == bus.source and received["detail-type"] == "Test Event"
    assert received["detail"] == detail and received["resources"] == ["arn:aws:s3:::b"]
    assert received["region"] == "us-east-1" and ISO_TIME.match(received["time"])


def test_each_event_starts_its_own_execution(aws):
    bus = Bus(aws)
    machine = bus.add_state_machine()
    for n in range(3):
        bus.put({"n": n})
    inputs = bus.execution_inputs(machine)
    assert sorted(i["detail"]["n"] for i in inputs) == [0, 1, 2]


def test_input_constant_and_input_path(aws):
    bus = Bus(aws)
    constant = {"pipeline": "flights", "date": "2024-01-05"}
    with_input = bus.add_state_machine(Input=json.dumps(constant))
    with_path = bus.add_state_machine(InputPath="$.detail.requestParameters")
    detail = {"requestParameters": {"bucketName": "b", "key": "raw/x.csv"}}
    bus.put(detail)
    assert bus.execution_inputs(with_input) == [constant]
    assert bus.execution_inputs(with_path) == [detail["requestParameters"]]


def test_input_transformer(aws):
    bus = Bus(aws)
    transformer = {
        "InputPathsMap": {"key": "$.detail.key", "size": "$.detail.size", "missing": "$.detail.nope"},
        "InputTemplate": '{"key": <key>, "note": "got <key> (<size> bytes)", "size": <size>, '
        '"missing": <missing>, "rule": "<aws.events.rule-name>", "event": <aws.events.event.json>}',
    }
    machine = bus.add_state_machine(InputTransformer=transformer)
    queue = bus.add_queue(InputTransformer={"InputPathsMap": {"key": "$.detail.key"}, "InputTemplate": "file <key>"})
    detail = {"key": 'raw/"quoted".csv', "size": 42}
    bus.put(detail)

    (received,) = bus.execution_inputs(machine)
    assert received["key"] == detail["key"]
    assert received["note"] == f"got {detail['key']} ({detail['size']} bytes)"
    assert received["size"] == detail["size"] and received["missing"] is None
    assert received["rule"] == bus.rule
    assert received["event"]["detail"] == detail and ISO_TIME.match(received["event"]["time"])
    assert bus.messages(queue) == [f"file {detail['key']}"]


def test_sqs_target_gets_the_event_json(aws):
    bus = Bus(aws)
    queue = bus.add_queue()
    detail = {"n": uuid.uuid4().hex}
    bus.put(detail)
    (body,) = bus.messages(queue)
    event = json.loads(body)
    assert event["detail"] == detail and event["source"] == bus.source and ISO_TIME.match(event["time"])


def test_fifo_queue_target_needs_content_based_deduplication(aws):
    """EventBridge API reference, Target (SqsParameters): "If you specify an SQS FIFO queue as a target, the
    queue must have content-based deduplication enabled": a FIFO queue without it gets nothing."""
    bus = Bus(aws)
    sqs = aws("sqs")
    urls = {}
    for name, attributes in (("plain", {}), ("dedup", {"ContentBasedDeduplication": "true"})):
        url = sqs.create_queue(QueueName=unique(name) + ".fifo", Attributes={"FifoQueue": "true", **attributes})
        urls[name] = url["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=urls[name], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus._target(arn, SqsParameters={"MessageGroupId": "g"})
    detail = {"n": uuid.uuid4().hex}
    with pytest.warns(UserWarning, match="you must enable content-based deduplication"):
        bus.put(detail)
    assert bus.messages(urls["plain"]) == []
    (body,) = bus.messages(urls["dedup"])
    assert json.loads(body)["detail"] == detail


def test_disabled_rule_does_not_fire(aws):
    disabled = Bus(aws, state="DISABLED")
    machine, queue = disabled.add_state_machine(), disabled.add_queue()
    disabled.put({"n": 1})
    assert disabled.execution_inputs(machine) == [] and disabled.messages(queue) == []

    aws("events").enable_rule(Name=disabled.rule)
    disabled.put({"n": 2})
    assert [i["detail"] for i in disabled.execution_inputs(machine)] == [{"n": 2}]


def test_failing_target_does_not_break_put_events(aws):
    bus = Bus(aws)
    bus._target("arn:aws:states:us-east-1:123456789012:stateMachine:does-not-exist")
    queue = bus.add_queue()
    bus.put({"n": 1})  # asserts FailedEntryCount == 0
    assert len(bus.messages(queue)) == 1


def test_logs_target_gets_the_event(aws):
    bus = Bus(aws)
    group = f"/aws/events/{unique('g')}"
    logs = aws("logs")
    logs.create_log_group(logGroupName=group)
    bus._target(f"arn:aws:logs:us-east-1:123456789012:log-group:{group}")
    bus.put({"n": 7})
    found = logs.filter_log_events(logGroupName=group)["events"]
    assert [json.loads(e["message"])["detail"] for e in found] == [{"n": 7}]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"v": <v>}', {"v": 'a "b"'}),
        ('{"v": "x <v> y"}', {"v": 'x a "b" y'}),
        ('{"n": <n>, "s": "<n>"}', {"n": [1, 2], "s": "[1, 2]"}),
    ],
)
def test_render_input_template_quoting(template, expected):
    class FakeRule:
        arn, name = "arn:aws:events:us-east-1:123456789012:rule/r", "r"

    event = {"time": 0, "detail": {"v": 'a "b"', "n": [1, 2]}}
    transformer = {"InputPathsMap": {"v": "$.detail.v", "n": "$.detail.n"}, "InputTemplate": template}
    assert json.loads(events.render_input_template(FakeRule, transformer, event)) == expected


# ---------------------------------------------------------------- event patterns and TestEventPattern
# Patterns and verdicts from the EventBridge User Guide: "Creating event patterns", "Comparison operators for
# use in event patterns", "Arrays in event patterns".

EC2_EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 300.0,
        "is-spot": True,
        "source-ip": "10.0.0.7",
        "location": None,
        "items": [{"kind": "disk", "size": 8}, {"kind": "nic", "size": 1}],
    },
}


def test_event_pattern(aws, pattern: dict, event: dict = EC2_EVENT) -> bool:
    return aws("events").test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))["Result"]


test_event_pattern.__test__ = False  # a helper, not a test


@pytest.mark.parametrize(
    "pattern, result",
    [
        ({"source": ["aws.ec2"]}, True),
        ({"source": ["aws.s3"]}, False),
        ({"source": ["aws.ec2"], "detail": {"state": ["running", "terminated"]}}, True),
        ({"detail": {"state": ["Terminated"]}}, False),  # exact, case-sensitive
        ({"detail": {"missing": ["x"]}}, False),  # every field in the pattern must be in the event
        ({"time": [{"prefix": "2017-12-22"}]}, True),
        ({"detail": {"instance-id": [{"suffix": "ef0"}]}}, True),
        ({"detail": {"instance-id": [{"prefix": {"equals-ignore-case": "I-1234"}}]}}, True),
        ({"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}, True),
        ({"detail": {"state": [{"anything-but": "terminated"}]}}, False),
        ({"detail": {"state": [{"anything-but": ["initializing", "running"]}]}}, True),
        ({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, False),
        ({"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
        ({"detail": {"c-count": [{"numeric": [">", 5]}]}}, False),
        ({"detail": {"instance-id": [{"numeric": [">", 0]}]}}, False),  # numeric matches numbers only
        ({"detail": {"c-count": [5]}}, True),
        ({"detail": {"c-count": ["5"]}}, False),  # a string is not a number
        ({"detail": {"d-count": [300]}}, False),  # numbers match by their text: 300 is not 300.0
        ({"detail": {"is-spot": [True]}}, True),
        ({"detail": {"c-count": [True]}}, False),  # true is not a number
        ({"detail": {"location": [None]}}, True),
        ({"detail": {"state": [{"exists": True}]}}, True),
        ({"detail": {"state": [{"exists": False}]}}, False),
        ({"detail": {"owner": [{"exists": False}]}}, True),
        ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
        ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
        ({"resources": [{"wildcard": "arn:aws:ec2:us-west-1:*:instance/*"}]}, True),
        ({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}, True),  # in the array
        ({"detail": {"items": {"kind": ["nic"]}}}, True),  # objects inside an event array
        ({"detail": {"items": {"kind": ["gpu"]}}}, False),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"c-count": [5]}}]}, True),
        ({"$or": [{"source": ["aws.s3"]}, {"detail": {"c-count": [6]}}]}, False),
    ],
)
def test_test_event_pattern_follows_the_user_guide(aws, pattern, result):
    assert test_event_pattern(aws, pattern) is result


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        "[]",
        '{"source": "aws.ec2"}',  # a value must be an array or an object
        '{"source": []}',
        '{"detail": {"state": [{"prefixx": "t"}]}}',  # an unknown operator
        '{"detail": {"c-count": [{"numeric": [">", "five"]}]}}',
        '{"detail": {"state": [{"exists": "yes"}]}}',
        '{"detail": {"source-ip": [{"cidr": "10.0.0.0/33"}]}}',
    ],
)
def test_invalid_patterns_are_refused_by_test_event_pattern_and_put_rule(aws, pattern):
    client = aws("events")
    with pytest.raises(client.exceptions.InvalidEventPatternException):
        client.test_event_pattern(EventPattern=pattern, Event=json.dumps(EC2_EVENT))
    with pytest.raises(client.exceptions.InvalidEventPatternException):
        client.put_rule(Name=unique("bad-rule"), EventPattern=pattern)


def test_test_event_pattern_needs_the_mandatory_event_fields(aws):
    client = aws("events")
    event = {key: value for key, value in EC2_EVENT.items() if key != "id"}
    with pytest.raises(client.exceptions.InvalidEventPatternException) as refused:
        client.test_event_pattern(EventPattern='{"source": ["aws.ec2"]}', Event=json.dumps(event))
    assert "id" in refused.value.response["Error"]["Message"]


def test_rules_deliver_by_the_same_matcher(aws):
    """A rule on objects inside an array (which moto's own matcher never matches) starts its target."""
    bus = Bus(aws)
    pattern = {"source": [bus.source], "detail": {"items": {"kind": ["nic"]}}}
    aws("events").put_rule(Name=bus.rule, EventPattern=json.dumps(pattern))
    queue = bus.add_queue()
    bus.put({"items": [{"kind": "disk"}]})
    bus.put({"items": [{"kind": "disk"}, {"kind": "nic"}], "n": 1})
    (body,) = bus.messages(queue)
    assert json.loads(body)["detail"]["n"] == 1
