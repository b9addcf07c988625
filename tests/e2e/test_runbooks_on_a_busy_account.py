"""The runbooks under conditions AWS imposes and the quiet local stack used to hide: CloudTrail events that reach
EventBridge late, and an inbox that already holds other runs' messages.

Expected facts come from the uploaded files with pandas alone (`expected_facts`), never from the stack. Each test
uses its own August 2013 days, which no other e2e test uploads.
"""

from __future__ import annotations

import datetime as dt
import time

import papermill
import pytest
from e2e_support import compare, expected_facts, to_csv

from flightpipe import samples
from flightpipe.aws import wait_until
from flightpipe.runbook import NOTEBOOKS, run_runbook
from flightpipe_local import cloudtrail

pytestmark = pytest.mark.e2e

DELAY_SECONDS = 6.0  # longer than uploading the days below (well under a second locally)


def test_a_backfill_whose_events_arrive_after_the_upload_starts_one_execution_and_loads_every_day(
        chain, reliability, count_executions, monkeypatch, tmp_path):
    first, last = dt.date(2013, 8, 1), dt.date(2013, 8, 4)
    paths = samples.write_days(first, last, tmp_path / "feed")
    monkeypatch.setenv(cloudtrail.DELAY_VARIABLE, str(DELAY_SECONDS))

    run_runbook("backfill", {"start_date": first.isoformat(), "end_date": last.isoformat(),
                             "source_dir": str(tmp_path / "feed")}, out_dir=tmp_path / "run")
    cloudtrail.drain()  # every upload's CloudTrail event has now reached EventBridge, however late

    assert count_executions() == 1, "the backfill's late events started executions of their own"
    states = []
    for path in paths:
        day = path.parent.name.removeprefix("date=")
        states.append(compare(chain.facts(day), expected_facts(path.read_bytes())))
        assert states[-1].exact, f"{day}: {states[-1]}"
        ledger = chain.ledger(chain.key(day))
        assert list(ledger.status) == ["LOADED"], ledger
    reliability.record("backfill with CloudTrail events delivered late", executions=count_executions(),
                       outcome="one execution, every day loaded", comparisons=states)


def test_a_daily_upload_still_starts_its_execution_when_events_arrive_late(chain, day_rows, count_executions,
                                                                           monkeypatch):
    day = "2013-08-10"
    monkeypatch.setenv(cloudtrail.DELAY_VARIABLE, "2")
    body = to_csv(day_rows(day))
    outcome = chain.follow(chain.upload(chain.key(day), body))
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert compare(chain.facts(day), expected_facts(body)).exact
    assert count_executions() == 1


def test_the_daily_runbook_finds_its_notification_behind_a_dozen_foreign_messages(chain, day_rows, reliability,
                                                                                  count_executions, tmp_path):
    day = "2013-08-20"
    source = tmp_path / "flights.csv"
    source.write_bytes(to_csv(day_rows(day)))
    sqs = chain.client("sqs")
    url = sqs.get_queue_url(QueueName=chain.names.queue)["QueueUrl"]
    foreign = [f"another subscriber's message {n}" for n in range(12)]
    for body in foreign:
        sqs.send_message(QueueUrl=url, MessageBody=body)

    run_runbook("daily", {"run_date": day, "source_path": str(source)}, out_dir=tmp_path / "run")

    assert compare(chain.facts(day), expected_facts(source.read_bytes())).exact
    # The runbook took its own message and left the others, visible again at once, for whoever reads them.
    left = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        for message in got:
            left.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    chain.inbox.extend(left)
    assert sorted(b for b in left if b in foreign) == sorted(foreign)
    assert not [b for b in left if day in b], "the runbook left its own notification in the inbox"
    reliability.record("daily runbook with 12 foreign messages in the inbox", executions=count_executions(),
                       outcome="found its notification")


def test_reprovisioning_the_topic_tolerates_a_foreign_subscriber(chain, tmp_path):
    sns, sqs = chain.client("sns"), chain.client("sqs")
    topic_arn = sns.create_topic(Name=chain.names.topic)["TopicArn"]
    other = sqs.create_queue(QueueName="another-team-inbox")["QueueUrl"]
    other_arn = sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=other_arn,
                                 ReturnSubscriptionArn=True)["SubscriptionArn"]
    try:
        papermill.execute_notebook(str(NOTEBOOKS / "04_sns.ipynb"), str(tmp_path / "04_sns.ipynb"),
                                   cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False)
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=other)


def test_the_daily_runbook_reads_each_execution_at_most_once_and_none_from_before_its_upload(
        chain, day_rows, monkeypatch, tmp_path):
    from collections import Counter

    from moto.stepfunctions.responses import StepFunctionResponse

    sfn = chain.client("stepfunctions")
    earlier = [sfn.start_execution(stateMachineArn=chain.sm_arn, input="{}")["executionArn"] for _ in range(15)]
    for arn in earlier:  # an input without an object fails in its first state; they only make the list long
        wait_until(lambda arn=arn: sfn.describe_execution(executionArn=arn)["status"], lambda s: s != "RUNNING",
                   what=f"execution {arn}", timeout=30, interval=0.2)
    time.sleep(2.5)  # S3's Date header counts whole seconds: make "before the upload" unambiguous
    described: Counter = Counter()
    original = StepFunctionResponse.describe_execution

    def counting(self):
        described[self._get_param("executionArn")] += 1
        return original(self)

    monkeypatch.setattr(StepFunctionResponse, "describe_execution", counting)
    monkeypatch.setenv(cloudtrail.DELAY_VARIABLE, "3")  # the runbook polls for a while before its execution appears
    day = "2013-08-25"
    source = tmp_path / "flights.csv"
    source.write_bytes(to_csv(day_rows(day)))

    run_runbook("daily", {"run_date": day, "source_path": str(source)}, out_dir=tmp_path / "run")
    monkeypatch.undo()  # what the runbook read, not what this test reads below

    (ours,) = chain.executions_for(chain.key(day))
    assert not [arn for arn in earlier if described[arn]], "executions from before the upload were read"
    others = {arn: n for arn, n in described.items() if arn != ours and n > 1}
    assert not others, f"executions read more than once: {others}"
    assert described[ours] >= 1
