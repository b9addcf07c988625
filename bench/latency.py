"""Latency: one real sample day through the whole local chain, upload → SNS message in the SQS inbox.

The stage breakdown comes from the execution's history (state entered/exited timestamps), the Glue job run
(StartedOn/CompletedOn) and the SQS message's SentTimestamp.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from bench import statements
from bench.stack import Stack
from flightpipe.config import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "data" / "samples"
STAGES = ("event → execution", "crawler", "job (incl. load)", "ledger query", "notify → inbox")


@dataclass
class Run:
    day: str
    total: float
    stages: dict[str, float] = field(default_factory=dict)
    job_process: float = 0.0  # the Glue job run, StartedOn → CompletedOn
    crawler_polls: int = 0
    statements: int = 0  # Data API statements the job run made
    message: str = ""


def _ts(value) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def crawler_polls(history: list[dict]) -> int:
    """How many times the execution asked for the crawler's state (bounded by max_crawler_polls)."""
    return sum(1 for e in history if e.get("stateEnteredEventDetails", {}).get("name") == "GetCrawler")


def _state_times(history: list[dict]) -> tuple[dict[str, float], dict[str, float]]:
    """First entry and last exit time of every state, by name."""
    entered: dict[str, float] = {}
    exited: dict[str, float] = {}
    for event in history:
        if "stateEnteredEventDetails" in event:
            entered.setdefault(event["stateEnteredEventDetails"]["name"], _ts(event["timestamp"]))
        if "stateExitedEventDetails" in event:
            exited[event["stateExitedEventDetails"]["name"]] = _ts(event["timestamp"])
    return entered, exited


def one_run(stack: Stack, day: str, queue_url: str, timeout: float = 120.0) -> Run:
    s3, sqs, sfn = boto3.client("s3"), boto3.client("sqs"), boto3.client("stepfunctions")
    body = (SAMPLES / f"date={day}" / "flights.csv").read_bytes()
    key = stack.names.raw_key(day)
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]}
    uploaded = time.time()
    s3.put_object(Bucket=stack.names.bucket, Key=key, Body=body)
    deadline = time.monotonic() + timeout
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                                  AttributeNames=["SentTimestamp"]).get("Messages", [])
        if got:
            received = time.time()
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"no notification for {key} after {timeout:.0f}s")
    message = got[0]
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    run = Run(day, received - uploaded, message=message["Body"][:200])
    if "succeeded" not in message["Body"]:
        raise RuntimeError(f"the chain failed for {key}: {message['Body'][:500]}")

    new = [e for e in sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
           if e["executionArn"] not in known]
    if len(new) != 1:
        return run  # no breakdown without exactly one execution to attribute it to
    execution = sfn.describe_execution(executionArn=new[0]["executionArn"])
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    entered, exited = _state_times(history)
    run.crawler_polls = crawler_polls(history)
    sent = int(message["Attributes"]["SentTimestamp"]) / 1000
    run.stages = {
        "event → execution": _ts(execution["startDate"]) - uploaded,
        "crawler": entered["RunJob"] - _ts(execution["startDate"]),
        "job (incl. load)": exited["RunJob"] - entered["RunJob"],
        "ledger query": exited["GetLedgerSummary"] - entered["QueryRunLedger"],
        "notify → inbox": received - entered["NotifySuccess"],
    }
    run.stages["notify → inbox"] = max(run.stages["notify → inbox"], received - sent)
    glue = boto3.client("glue")
    for job_run in glue.get_job_runs(JobName=stack.names.job)["JobRuns"]:
        if job_run.get("Arguments", {}).get("--object_key") == key and job_run.get("CompletedOn"):
            if job_run["StartedOn"].timestamp() >= uploaded - 1:
                run.job_process = job_run["CompletedOn"].timestamp() - job_run["StartedOn"].timestamp()
                run.statements = statements.created_between(job_run["StartedOn"], job_run["CompletedOn"])
                break
    return run


def measure(stack: Stack, runs: int = 5) -> dict:
    """`runs` uploads, cycling through the shipped sample days (a re-upload is a new version: a reload)."""
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=stack.names.queue)["QueueUrl"]
    sqs.purge_queue(QueueUrl=queue_url)
    days = sorted(p.parent.name.removeprefix("date=") for p in Path(SAMPLES).glob("date=*/flights.csv"))
    results = [one_run(stack, days[i % len(days)], queue_url) for i in range(runs)]
    totals = [r.total for r in results]
    stages = {s: statistics.median(r.stages[s] for r in results if r.stages) for s in STAGES}
    return {
        "runs": results,
        "median": statistics.median(totals),
        "max": max(totals),
        "min": min(totals),
        "stages": stages,
        "job_process": statistics.median(r.job_process for r in results),
        "crawler_polls": max(r.crawler_polls for r in results),
        "statements": max(r.statements for r in results),
        "rows": {d: sum(1 for _ in open(SAMPLES / f"date={d}" / "flights.csv")) - 1 for d in days},
    }
