"""The state machine on the local stack: event → crawler → Glue job → ledger summary → SNS, and the failure path."""

from __future__ import annotations

import hashlib
import json
import time

import boto3
import pytest
from test_job_stack import start_glue_job

from flightpipe import job_wheel, statemachine


def event_for(bucket: str, key: str) -> str:
    """The EventBridge event of a CloudTrail S3 PutObject data event (only the fields the machine reads)."""
    return json.dumps({
        "source": "aws.s3", "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventSource": "s3.amazonaws.com", "eventName": "PutObject",
                   "requestParameters": {"bucketName": bucket, "key": key}},
    })


@pytest.fixture
def daily_ingest(pipeline):
    """The crawler, job, topic (with a queue to read notifications) and state machine for `pipeline`."""
    glue, sns, sqs = boto3.client("glue"), boto3.client("sns"), boto3.client("sqs")
    suffix = pipeline.bucket[-10:]
    crawler = f"daily-flights-{suffix}"
    glue.create_crawler(Name=crawler, Role=pipeline.role_arn, DatabaseName=pipeline.glue_database,
                        Targets={"S3Targets": [{"Path": f"s3://{pipeline.bucket}/raw/flights/"}]})
    start_glue_job(pipeline, "--object_key", "none", run_id="setup")  # creates the job (fails: not a daily key)
    topic = sns.create_topic(Name=f"daily-flights-{suffix}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"daily-flights-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    definition = statemachine.render({
        "CrawlerName": crawler, "JobName": f"daily_flights_etl_{suffix}", "TopicArn": topic,
        "ClusterId": pipeline.cluster_id, "Database": pipeline.database, "SecretArn": pipeline.secret_arn,
        "PollSeconds": 1, "MaxCrawlerPolls": 60, "MaxStatementPolls": 30,
    })
    arn = boto3.client("stepfunctions").create_state_machine(
        name=f"daily-ingest-{suffix}", definition=definition, roleArn=pipeline.role_arn)["stateMachineArn"]

    def run(key: str) -> tuple[dict, str]:
        desc, message, _ = run_to_end(arn, pipeline.bucket, key, queue)
        return desc, message

    return run


def run_to_end(arn: str, bucket: str, key: str, queue: str) -> tuple[dict, str, list[dict]]:
    """Start the state machine `arn` on the upload event of `key`, wait for it to end; its description, the
    notifications it left in `queue` (taken out of it) and its history."""
    sfn, sqs = boto3.client("stepfunctions"), boto3.client("sqs")
    execution = sfn.start_execution(stateMachineArn=arn, input=event_for(bucket, key))["executionArn"]
    deadline = time.monotonic() + 120
    while (desc := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish"
        time.sleep(0.3)
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
    for m in messages:
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    history = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    return desc, " ".join(m["Body"] for m in messages), history


def test_an_upload_is_crawled_loaded_and_announced(pipeline, daily_ingest, nyc_days, expected):
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"], catalogue=False)
    desc, message = daily_ingest(pipeline.key("2013-01-01"))
    assert desc["status"] == "SUCCEEDED", json.dumps(history(desc["executionArn"]), default=str)[-3000:]
    want = expected(nyc_days["2013-01-01"])
    assert expected.normalise(pipeline.facts()).equals(want)
    assert "succeeded" in message and f"loaded {len(want)}" in message and "2013-01-01 LOADED" in message
    # The job recorded the execution's name as its run (Glue passes a Python shell job no JOB_RUN_ID), and the
    # summary found the run's ledger rows by it.
    assert "files processed: 1 (2013-01-01 LOADED)" in message
    assert pipeline.ledger().job_run_id.tolist() == [desc["name"]]
    output = "\n".join(e["message"] for e in boto3.client("logs").get_log_events(
        logGroupName="/aws-glue/python-jobs/output", logStreamName=job_run_of(desc["executionArn"]))["events"])
    assert output.splitlines()[0].startswith("Glue runtime: Python 3.9.") and "pandas 1.4.2" in output
    # The job ran from its wheel: the run installed exactly the built file (its name and SHA-256 in the log).
    wheel = job_wheel.build()
    assert output.splitlines()[1] == (f"--extra-py-files: installed {wheel.name} from "
                                      f"s3://{pipeline.bucket}/scripts/{wheel.name} "
                                      f"(sha256 {hashlib.sha256(wheel.read_bytes()).hexdigest()})")


def test_a_bad_file_fails_the_execution_with_a_readable_message(pipeline, daily_ingest):
    version = pipeline.put_day("2013-01-02", b"Carrier,Origin\nAA,1\n", catalogue=False)
    desc, message = daily_ingest(pipeline.key("2013-01-02"))
    assert desc["status"] == "FAILED"
    assert "FAILED" in message and f"versionId={version}" in message and "header must be" in message
    assert pipeline.facts().empty


def job_run_of(execution_arn: str) -> str:
    """The Glue run id of an execution's RunJob state (from its TaskSucceeded output)."""
    for event in history(execution_arn):
        details = event.get("taskSucceededEventDetails") or {}
        if details.get("resource") == "startJobRun.sync":
            return json.loads(details["output"])["Id"]
    raise AssertionError("no Glue job run in the execution's history")


def history(arn: str) -> list:
    return boto3.client("stepfunctions").get_execution_history(executionArn=arn)["events"]
