"""The daily state machine's JSONata twin runs the real chain as the JSONPath definition does; with the default
crawl time, both turn their crawler poll loop (read from the execution history).

Same fixtures as test_daily_ingest_e2e.py: a provisioned pipeline (bucket, catalog, warehouse), a crawler, the
Glue job, an SNS topic with a queue to read the notification, and the state machine rendered from one definition.
"""

from __future__ import annotations

import json
import re

import boto3
import pytest
from test_daily_ingest_e2e import run_to_end
from test_job_stack import start_glue_job

from flightpipe import statemachine

DEFINITIONS = {"jsonpath": statemachine.DEFINITION, "jsonata": statemachine.JSONATA_DEFINITION}


@pytest.fixture
def daily_ingest(pipeline, monkeypatch):
    """`daily_ingest(definition, **settings)` → `run(key)` → (describe_execution, notification text, history)."""
    monkeypatch.delenv("FLIGHTPIPE_LOCAL_CRAWL_SECONDS", raising=False)  # the default crawl time
    glue, sns, sqs = boto3.client("glue"), boto3.client("sns"), boto3.client("sqs")
    suffix = pipeline.bucket[-10:]
    crawler = f"daily-flights-{suffix}"
    glue.create_crawler(Name=crawler, Role=pipeline.role_arn, DatabaseName=pipeline.glue_database,
                        Targets={"S3Targets": [{"Path": f"s3://{pipeline.bucket}/raw/flights/"}]})
    start_glue_job(pipeline, "--object_key", "none", run_id="create-the-job")  # the run fails: not a daily key
    topic = sns.create_topic(Name=f"daily-flights-{suffix}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"daily-flights-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    settings = {
        "CrawlerName": crawler, "JobName": f"daily_flights_etl_{suffix}", "TopicArn": topic,
        "ClusterId": pipeline.cluster_id, "Database": pipeline.database, "SecretArn": pipeline.secret_arn,
        "PollSeconds": 1, "MaxCrawlerPolls": 60, "MaxStatementPolls": 30,
    }

    def machine(kind: str, **overrides):
        definition = statemachine.render({**settings, **overrides}, DEFINITIONS[kind])
        arn = boto3.client("stepfunctions").create_state_machine(
            name=f"daily-ingest-{kind}-{suffix}", definition=definition, roleArn=pipeline.role_arn)["stateMachineArn"]

        return lambda key: run_to_end(arn, pipeline.bucket, key, queue)

    return machine


def entered(history: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def test_the_jsonata_twin_keeps_every_state_and_setting():
    jsonpath = json.loads(statemachine.DEFINITION.read_text())
    jsonata = json.loads(statemachine.JSONATA_DEFINITION.read_text())
    assert jsonata["QueryLanguage"] == "JSONata"
    assert list(jsonata["States"]) == list(jsonpath["States"])
    assert statemachine.placeholders(statemachine.JSONATA_DEFINITION) == statemachine.placeholders()
    for name, state in jsonata["States"].items():
        twin = jsonpath["States"][name]
        assert state["Type"] == twin["Type"], name
        assert state.get("Resource") == twin.get("Resource"), name
        assert state.get("Next") == twin.get("Next") and state.get("Default") == twin.get("Default"), name
        assert state.get("Retry") == twin.get("Retry"), name
        assert [c["ErrorEquals"] for c in state.get("Catch", [])] == [c["ErrorEquals"] for c in twin.get("Catch", [])]
        assert [c["Next"] for c in state.get("Catch", [])] == [c["Next"] for c in twin.get("Catch", [])], name
        if state["Type"] == "Task":  # the same call: the same argument names, every level down
            assert fields(state.get("Arguments")) == fields(twin.get("Parameters")), name  # SQL, topic, names too
        if state["Type"] == "Choice":
            assert [c["Next"] for c in state["Choices"]] == [c["Next"] for c in twin["Choices"]], name


def fields(template, computed: bool = False) -> object:
    """A payload template's shape: field names (JSONPath's `.$` suffix dropped) and literal values, every level
    down; a computed value (a JSONPath `.$` field, a JSONata `{% %}` string) is just "computed"."""
    if isinstance(template, dict):
        return {key.removesuffix(".$"): fields(value, key.endswith(".$")) for key, value in template.items()}
    if isinstance(template, list):
        return [fields(item) for item in template]
    if computed or (isinstance(template, str) and template.startswith("{%")):
        return "computed"
    return template


def test_an_upload_is_crawled_loaded_and_announced_the_same_way(pipeline, daily_ingest, nyc_days, expected):
    """The same day's rows under two dates: one loaded by each definition, announced with the same text."""
    body = nyc_days["2013-01-01"]
    want = expected(body)
    announced = {}
    for kind, day in (("jsonpath", "2013-01-01"), ("jsonata", "2013-01-02")):
        key = pipeline.key(day)
        pipeline.put_day(day, body, catalogue=False)
        desc, message, history = daily_ingest(kind)(key)
        assert desc["status"] == "SUCCEEDED", json.dumps(history, default=str)[-3000:]
        loaded = expected.normalise(pipeline.facts(day))
        assert loaded.equals(want), kind
        assert message.startswith(f"Daily flights ingest succeeded for s3://{pipeline.bucket}/{key} (Glue job run jr_")
        assert f"loaded {len(want)}" in message and f"{day} LOADED" in message
        assert message.endswith(f"Step Functions execution: {desc['name']}")
        # With the default crawl time the crawler is still RUNNING at the first GetCrawler: the loop turns.
        states = entered(history)
        assert states.count("CountCrawlerPoll") >= 1, (kind, states)
        assert states.count("GetCrawler") == states.count("CountCrawlerPoll") + 1
        assert "RunJob" in states and "NotifyFailure" not in states
        for varying in (desc["name"], key, day):
            message = message.replace(varying, "…")
        announced[kind] = re.sub(r"jr_[0-9a-f]+", "jr_…", message)
    assert announced["jsonata"] == announced["jsonpath"]


def test_a_failing_job_ends_in_the_same_failure_notification(pipeline, daily_ingest):
    """Both definitions announce a failed job run with the same text (ids, names and the day aside)."""
    announced = {}
    for kind, day in (("jsonpath", "2013-01-02"), ("jsonata", "2013-01-03")):
        key = pipeline.key(day)
        version = pipeline.put_day(day, b"Carrier,Origin\nAA,1\n", catalogue=False)
        desc, message, history = daily_ingest(kind)(key)
        assert desc["status"] == "FAILED", kind
        assert desc["error"] == "DailyIngestFailed", kind
        assert message.startswith(f"Daily flights ingest FAILED for s3://{pipeline.bucket}/{key}. "
                                  "GlueJobFailed: Glue job run jr_"), message
        assert f"versionId={version}" in message and "header must be" in message
        assert message.endswith(f"Step Functions execution: {desc['name']}")
        assert desc["cause"] in message
        states = entered(history)
        assert states[-6:] == ["JobRunInCause?", "ExplainJobFailure", "ParseJobRun", "FormatJobError", "NotifyFailure",
                               "Failed"], states
        for varying in (desc["name"], key, version):
            message = message.replace(varying, "…")
        announced[kind] = re.sub(r"jr_[0-9a-f]+", "jr_…", message)
    assert announced["jsonata"] == announced["jsonpath"]
    assert pipeline.facts().empty


@pytest.mark.parametrize("kind", ["jsonpath", "jsonata"])
def test_a_job_that_cannot_start_is_announced_with_the_original_error(pipeline, daily_ingest, nyc_days, kind):
    """StartJobRun fails (no such job): there is no job run, Cause is Glue's error text, not a JobRun JSON.
    JobRunInCause? sends it straight to the notification, which keeps Glue's error (parsing the text would fail
    with an error a Catch on States.ALL may not catch, and the execution would end without a notification)."""
    day = {"jsonpath": "2013-01-01", "jsonata": "2013-01-02"}[kind]
    key = pipeline.key(day)
    pipeline.put_day(day, nyc_days[day], catalogue=False)
    desc, message, history = daily_ingest(kind, JobName="no-such-job")(key)
    assert desc["status"] == "FAILED" and desc["error"] == "DailyIngestFailed"
    assert message.startswith(f"Daily flights ingest FAILED for s3://{pipeline.bucket}/{key}. "
                              "Glue.EntityNotFoundException: "), message
    assert message.endswith(f"Step Functions execution: {desc['name']}")
    states = entered(history)
    assert states[-4:] == ["RunJob", "JobRunInCause?", "NotifyFailure", "Failed"], states
    assert pipeline.facts().empty
