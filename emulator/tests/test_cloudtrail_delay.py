"""CloudTrail → EventBridge delivery lags on AWS; FLIGHTPIPE_LOCAL_CLOUDTRAIL_DELAY_SECONDS makes the local stack lag
too, and the event records the writer's User-Agent (which a rule can filter on)."""

from __future__ import annotations

import json
import time

import boto3
import botocore.config
import pytest
from test_cloudtrail import Chain

from flightpipe_local import cloudtrail


@pytest.fixture
def chain(aws):
    return Chain(aws)


def started(aws, machine: str) -> list[str]:
    """Keys of the executions started so far, oldest first (no drain: what a user would see now)."""
    sfn = aws("stepfunctions")
    listed = sorted(sfn.list_executions(stateMachineArn=machine)["executions"], key=lambda e: e["startDate"])
    return [json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["detail"]
            ["requestParameters"]["key"] for e in listed]


def test_a_delayed_event_arrives_after_the_delay_and_in_write_order(aws, chain, monkeypatch):
    monkeypatch.setenv(cloudtrail.DELAY_VARIABLE, "1.5")
    keys = [f"raw/date=2024-01-0{n}/flights.csv" for n in (1, 2, 3)]
    wrote = time.monotonic()
    for key in keys:
        aws("s3").put_object(Bucket=chain.bucket, Key=key, Body=b"x")
    assert started(aws, chain.machine) == []  # the writes returned; their events are still on the way
    cloudtrail.drain()
    assert time.monotonic() - wrote >= 1.5
    assert started(aws, chain.machine) == keys


def test_the_delay_is_read_at_each_write(aws, chain, monkeypatch):
    monkeypatch.setenv(cloudtrail.DELAY_VARIABLE, "0")
    aws("s3").put_object(Bucket=chain.bucket, Key="raw/prompt.csv", Body=b"x")
    cloudtrail.drain()
    monkeypatch.setenv(cloudtrail.DELAY_VARIABLE, "2")  # the running stack picks it up at the next write
    aws("s3").put_object(Bucket=chain.bucket, Key="raw/late.csv", Body=b"x")
    assert started(aws, chain.machine) == ["raw/prompt.csv"]
    cloudtrail.drain()
    assert started(aws, chain.machine) == ["raw/prompt.csv", "raw/late.csv"]


@pytest.mark.parametrize("value", ["soon", "-1", "inf", "nan"])
def test_a_bad_delay_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(cloudtrail.DELAY_VARIABLE, value)
    with pytest.raises(ValueError, match=cloudtrail.DELAY_VARIABLE):
        cloudtrail.delivery_delay()


def test_the_event_records_the_writers_user_agent_in_brackets(aws, chain):
    s3 = aws("s3")
    # configured as notebook 11 configures its uploader
    backfill = boto3.client("s3", region_name="us-east-1",
                            config=botocore.config.Config(user_agent_appid="flightpipe-backfill"))
    s3.put_object(Bucket=chain.bucket, Key="raw/plain.csv", Body=b"x")
    backfill.put_object(Bucket=chain.bucket, Key="raw/tagged.csv", Body=b"x")
    agents = {e["detail"]["requestParameters"]["key"]: e["detail"]["userAgent"] for e in chain.executions()}
    assert agents["raw/plain.csv"].startswith("[Boto3/") and agents["raw/plain.csv"].endswith("]")
    assert "app/flightpipe-backfill" not in agents["raw/plain.csv"]
    assert "app/flightpipe-backfill" in agents["raw/tagged.csv"]
