"""Reliability through the whole local chain: every case starts with an S3 upload (or a re-delivered event)
and is judged on what an operator sees — the execution, its SNS message, the ledger, the fact table, S3.

Each test uses its own flight dates, so tests never see each other's rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import boto3
import pandas as pd
import pytest
from botocore.config import Config
from e2e_support import compare, expected_facts, to_csv

from flightpipe.aws import ensure
from flightpipe.samples import HEADER
from flightpipe_local import cloudtrail

pytestmark = pytest.mark.e2e

# ---- 1. idempotency --------------------------------------------------------------------------------------


def test_same_day_three_uploads_and_a_duplicate_event_equal_one_clean_load(chain, day_rows, reliability,
                                                                            count_executions):
    day = "2013-02-01"
    key = chain.key(day)
    rows = day_rows(day)
    original = to_csv(rows)
    changed_rows = rows.iloc[40:].copy()  # 40 flights fewer, and 100 departures 45 minutes later
    changed_rows.iloc[:100, HEADER.index("DepDelay")] += 45
    changed = to_csv(changed_rows)
    assert changed != original

    runs, states = [], []
    for body in (original, original, changed):
        upload = chain.upload(key, body)
        outcome = chain.follow(upload)
        assert outcome.status == "SUCCEEDED", outcome.cause
        want = expected_facts(body)
        states.append(compare(chain.facts(day), want))
        assert states[-1].exact, f"after upload {len(runs) + 1}: {states[-1]}"
        assert f"{day} LOADED" in outcome.message and f"loaded {len(want)}," in outcome.message
        runs.append((upload, outcome))

    # EventBridge delivers at least once: the same event again finds nothing to do.
    again = chain.redeliver(runs[-1][1])
    assert again.status == "SUCCEEDED" and "Daily files processed: 0 (none)" in again.message

    final = compare(chain.facts(day), expected_facts(changed))
    states.append(final)
    assert final.exact, final
    # The ledger tells each run's outcome: the versions it loaded, superseded by the next; nothing for the echo.
    ledger = chain.ledger(key)
    assert list(ledger.job_run_id) == [o.job_run_id for _, o in runs]
    assert list(ledger.source_version) == [u.version for u, _ in runs]
    assert list(ledger.status) == ["SUPERSEDED", "SUPERSEDED", "LOADED"]
    latest = ledger.iloc[-1]
    assert (latest.rows_read, latest.rows_loaded, latest.rows_rejected) == (len(changed_rows), final.expected, 0)
    assert latest.rows_filtered == len(changed_rows) - final.expected
    assert again.job_run_id not in set(chain.query("SELECT job_run_id FROM airlines.load_ledger").job_run_id)
    assert chain.check_violations() == {}
    for upload, _ in runs:
        assert chain.client("s3").get_object(Bucket=chain.bucket, Key=key, VersionId=upload.version)[
            "Body"].read() == upload.body
    reliability.record("idempotency: same bytes twice, changed bytes, duplicate event",
                       executions=count_executions(), outcome="4 SUCCEEDED; latest version LOADED once",
                       comparisons=states)


# ---- 2. the bad input catalogue --------------------------------------------------------------------------


def fact_rows(rows: pd.DataFrame, n: int) -> list[int]:
    """Positions of `n` rows that would be facts if intact (so a wrong rejection is a lost row)."""
    return list(rows.index[rows.DepDelay.fillna(-1) >= 60][:n])


def corrupt(rows: pd.DataFrame, changes: list[tuple[str, object, str]]) -> tuple[pd.DataFrame, dict[int, list]]:
    """Write each (column, bad value, problem) into its own fact row; return the rows and {source line: the
    words its reject reason must hold (column, value, problem)}."""
    bad = rows.astype(object)
    reasons = {}
    for position, (column, value, problem) in zip(fact_rows(rows, len(changes)), changes, strict=True):
        bad.at[position, column] = value
        reasons[position + 2] = [column, str(value), problem]  # the header is line 1
    return bad, reasons


@dataclass
class BadInput:
    name: str
    day: str
    # rows of the day → (file bytes, the rows that must load or None when the file fails as a whole,
    #                    {source line: words of the reject reason})
    make: Callable[[pd.DataFrame], tuple[bytes, pd.DataFrame | None, dict[int, list]]]
    problem: str = ""  # words the failure message must hold


def whole_file(body: Callable[[pd.DataFrame], bytes]):
    return lambda rows: (body(rows), None, {})


def row_level(changes: list[tuple[str, object, str]]):
    def make(rows):
        bad, reasons = corrupt(rows, changes)
        return to_csv(bad), rows.drop(index=[line - 2 for line in reasons]), reasons
    return make


def loads_all(body: Callable[[pd.DataFrame], bytes]):
    return lambda rows: (body(rows), rows, {})


def quoted(rows: pd.DataFrame):
    bad, reasons = corrupt(rows, [("Carrier", "U,A", "must be 2-3 letters or digits")])  # one field, not two
    return to_csv(bad, quoting=csv.QUOTE_ALL), rows.drop(index=[line - 2 for line in reasons]), reasons


CATALOGUE = [
    BadInput("empty file", "2013-03-01", whole_file(lambda rows: b""), "the file is empty (0 bytes)"),
    BadInput("header only", "2013-03-02", whole_file(lambda rows: to_csv(rows.iloc[:0])),
             "the file has a header but no data rows"),
    BadInput("missing column", "2013-03-03", whole_file(lambda rows: to_csv(rows.drop(columns="ArrDelay"))),
             "missing ['ArrDelay']"),
    BadInput("extra column", "2013-03-04", whole_file(lambda rows: to_csv(rows.assign(TailNum="N14228"))),
             "unexpected ['tailnum']"),
    BadInput("columns reordered", "2013-03-05", loads_all(lambda rows: to_csv(rows[HEADER[::-1]]))),
    BadInput("non-numeric delay", "2013-03-06", row_level([
        ("DepDelay", "abc", "is not a number"),
        ("DepDelay", "1h", "is not a number"),
        ("DepDelay", "NaN", "is not a number"),
        ("ArrDelay", "--", "is not a number"),
    ])),
    BadInput("delay out of range", "2013-03-07", row_level([
        ("DepDelay", 99999, "is outside -1440..2880 minutes"),
        ("DepDelay", 2881, "is outside -1440..2880 minutes"),
        ("ArrDelay", -5000, "is outside -1440..2880 minutes"),
    ])),
    BadInput("unknown airport id", "2013-03-08", row_level([
        ("OriginAirportID", 99999, "is not in airlines.airports_dim"),
        ("DestAirportID", 1, "is not in airlines.airports_dim"),
    ])),
    BadInput("CRLF line endings", "2013-03-09", loads_all(lambda rows: to_csv(rows, lineterminator="\r\n"))),
    BadInput("UTF-8 BOM", "2013-03-10", loads_all(lambda rows: b"\xef\xbb\xbf" + to_csv(rows))),
    BadInput("quoted fields", "2013-03-11", quoted),
]


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.name for c in CATALOGUE])
def test_bad_input_is_refused_or_rejected_with_nothing_partial(case, chain, day_rows, reliability,
                                                               count_executions):
    rows = day_rows(case.day)
    body, must_load, reasons = case.make(rows)
    before = chain.raw_versions()
    upload = chain.upload(chain.key(case.day), body)
    outcome = chain.follow(upload)
    ledger = chain.ledger(upload.key, upload.version)
    facts = chain.facts(case.day)
    uri = f"s3://{chain.bucket}/{upload.key}?versionId={upload.version}"

    if must_load is None:  # unusable as a whole: FAILED, named, and not a single row of the day
        assert outcome.status == "FAILED"
        assert uri in outcome.message and case.problem in outcome.message, outcome.message
        assert list(ledger.status) == ["FAILED"] and not ledger.retryable[0]
        assert case.problem in ledger.error[0]
        comparison = compare(facts, expected_facts(to_csv(rows.iloc[:0])))
        job_run = re.search(r"Glue job run (\S+) ended", outcome.cause).group(1)
    else:  # usable: SUCCEEDED, the bad rows rejected with their reasons, every good row loaded once
        assert outcome.status == "SUCCEEDED", outcome.cause
        want = expected_facts(to_csv(must_load))
        comparison = compare(facts, want)
        assert list(ledger.status) == ["LOADED"]
        row = ledger.iloc[0]
        assert (row.rows_read, row.rows_rejected, row.rows_loaded) == (len(rows), len(reasons), len(want))
        assert f"rejected {len(reasons)}," in outcome.message and f"loaded {len(want)}," in outcome.message
        if reasons:
            assert row.rejects_location.startswith(f"s3://{chain.bucket}/{chain.names.rejects_prefix}")
            assert row.rejects_location in outcome.message
            rejects = pd.read_csv(io.BytesIO(chain.read(row.rejects_location)), dtype=str, keep_default_na=False)
            kept = dict(zip(rejects.source_line.astype(int), rejects.reason, strict=True))
            assert sorted(kept) == sorted(reasons), "exactly the bad lines are rejected"
            for line, words in reasons.items():
                assert all(w in kept[line] for w in words), (line, kept[line], words)
        else:
            assert pd.isna(row.rejects_location)
        job_run = outcome.job_run_id
    assert comparison.exact, comparison
    assert chain.keys(f"{chain.names.staging_prefix}{job_run}/") == [], "staging files left behind"
    chain.assert_raw_intact(upload)
    assert set(chain.raw_versions()) - set(before) == {(upload.key, upload.version)}
    assert chain.check_violations() == {}
    reliability.record(f"bad input: {case.name}", executions=count_executions(), comparisons=comparison,
                       outcome=f"{outcome.status}" + (f", {len(reasons)} rows rejected" if reasons else ""),
                       rows_rejected=len(reasons), **({"rows_read": len(rows)} if must_load is not None else {}))


def test_zero_byte_csv_outside_the_date_folders_starts_nothing(chain, reliability, count_executions):
    before = chain.raw_versions()
    strays = [chain.upload(key, b"") for key in (f"{chain.names.raw_prefix}flights.csv",
                                                 f"{chain.names.raw_prefix}2013-03-12/flights.csv")]
    cloudtrail.drain()  # every recorded S3 data event has reached EventBridge (which starts executions)
    time.sleep(0.5)
    assert count_executions() == 0
    for stray in strays:
        chain.assert_raw_intact(stray)
    assert set(chain.raw_versions()) - set(before) == {(s.key, s.version) for s in strays}
    reliability.record("bad input: 0-byte .csv outside the date folders", executions=count_executions(),
                       outcome="no execution")


# ---- 3. a crash in the middle of the load ----------------------------------------------------------------


def test_a_job_killed_before_the_load_or_failing_inside_it_leaves_the_day_then_loads_it_once(
        chain, day_rows, reliability, count_executions):
    day = "2013-04-01"
    key = chain.key(day)
    rows = day_rows(day)
    v1 = chain.upload(key, to_csv(rows))
    assert chain.follow(v1).status == "SUCCEEDED"
    previous = expected_facts(v1.body)
    states = [compare(chain.facts(day), previous)]
    assert states[-1].exact

    v2_rows = rows.iloc[::-1].iloc[25:].reset_index(drop=True)  # a corrected file: other order, 25 fewer
    v2 = chain.upload(key, to_csv(v2_rows))
    with chain.job_arguments(**{"--fault": "exit_before_load"}):  # the job process dies before COPY
        killed = chain.follow(v2)
    assert killed.status == "FAILED" and "exit code 1" in killed.message and v2.key in killed.message
    states.append(compare(chain.facts(day), previous))
    assert states[-1].exact, f"the day changed although the load never ran: {states[-1]}"
    assert list(chain.ledger(key, v2.version).status) == ["RUNNING"]  # a dead run's claim
    # Its staged files stay (no later run reads another run's prefix) until the bucket's lifecycle rule expires them.
    assert re.search(r"Glue job run (\S+) ended", killed.cause)
    assert chain.keys(f"{chain.names.staging_prefix}{killed.job_run_id}/")  # the run's identity: the execution name
    lifecycle = chain.client("s3").get_bucket_lifecycle_configuration(Bucket=chain.bucket)["Rules"]
    assert any(r["Filter"].get("Prefix") == chain.names.staging_prefix and r["Status"] == "Enabled"
               for r in lifecycle)
    # The data checks show it: a newer version is not loaded; its claim is stale once older than the job's timeout.
    assert chain.check_violations() == {"ledger_loaded_not_latest": 1}
    assert chain.check_violations(max_running_minutes=-1) == {"ledger_loaded_not_latest": 1,
                                                              "ledger_stale_running": 1}

    with chain.job_arguments(**{"--fault": "fail_in_transaction"}):  # the load transaction fails half-way
        rolled_back = chain.redeliver(killed)
    assert rolled_back.status == "FAILED" and f"load of s3://{chain.bucket}/{key}" in rolled_back.message
    assert "fault injected: fail_in_transaction" in rolled_back.message
    states.append(compare(chain.facts(day), previous))
    assert states[-1].exact, f"a failed transaction changed the day: {states[-1]}"
    claims = chain.ledger(key, v2.version)
    assert list(claims.status) == ["FAILED", "FAILED"] and all(claims.retryable)
    assert "abandoned" in claims.error[0] and "load transaction failed" in claims.error[1]

    recovered = chain.redeliver(killed)  # the next execution for the object (no fault)
    assert recovered.status == "SUCCEEDED", recovered.cause
    final = compare(chain.facts(day), expected_facts(v2.body))
    states.append(final)
    assert final.exact, final
    ledger = chain.ledger(key)
    assert list(ledger.status) == ["SUPERSEDED", "FAILED", "FAILED", "LOADED"]
    assert ledger.job_run_id.iloc[-1] == recovered.job_run_id
    assert chain.check_violations() == {}
    chain.assert_raw_intact(v2)
    reliability.record("crash: process killed before the load, then a failed load transaction",
                       executions=count_executions(), comparisons=states,
                       outcome="2 FAILED with the previous day intact, then LOADED once")


# ---- 4. concurrency --------------------------------------------------------------------------------------


def test_days_uploaded_in_the_same_second_each_load_exactly_once(chain, day_rows, reliability, count_executions):
    days = ["2013-05-01", "2013-05-02", "2013-05-03"]
    bodies = {day: to_csv(day_rows(day)) for day in days}
    uploads: dict[str, object] = {}
    start = threading.Barrier(len(days))
    s3 = chain.client("s3")  # one client, made before the timed window (boto3 clients are thread safe)

    def put(day):
        start.wait()
        uploads[day] = chain.upload(chain.key(day), bodies[day], s3)

    threads = [threading.Thread(target=put, args=(day,)) for day in days]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - began < 1.0, "the uploads did not land within one second"
    outcomes = [chain.finish(chain.wait_for_execution(uploads[day])) for day in days]
    assert [o.status for o in outcomes] == ["SUCCEEDED"] * len(days), [o.cause for o in outcomes]

    states = []
    for day in days:
        states.append(compare(chain.facts(day), expected_facts(bodies[day])))
        assert states[-1].exact, (day, states[-1])
        ledger = chain.ledger(chain.key(day))
        assert list(ledger.status) == ["LOADED"], ledger  # one claim, one load per day
    # Together the executions report each day loaded once; the crawler and Glue's limit were waited out.
    loaded = [m for o in outcomes for m in re.findall(r"(\d{4}-\d{2}-\d{2}) LOADED", o.message)]
    assert sorted(loaded) == days
    errors = [e for o in outcomes for e in o.task_errors()]
    print("task errors met by the executions:", errors)
    # Three job runs, MaxConcurrentRuns 2: one execution met the limit and its Retry waited it out.
    assert "Glue.ConcurrentRunsExceededException" in errors
    assert chain.check_violations() == {}
    reliability.record(f"concurrency: {len(days)} days uploaded within one second", executions=count_executions(),
                       comparisons=states, outcome=f"{len(days)} SUCCEEDED; each day LOADED once",
                       crawler_busy_caught=errors.count("Glue.CrawlerRunningException"),
                       glue_limit_retried=errors.count("Glue.ConcurrentRunsExceededException"),
                       executions_finding_their_day_already_loaded=sum(
                           "Daily files processed: 0 (none)" in o.message for o in outcomes))


# ---- 5. the warehouse is down ----------------------------------------------------------------------------


def test_an_unavailable_warehouse_fails_cleanly_and_the_day_loads_once_it_is_back(chain, day_rows, reliability,
                                                                                  count_executions):
    day = "2013-06-01"
    key = chain.key(day)
    body = to_csv(day_rows(day))
    offline = chain.state_dir / "warehouse.offline"
    offline.touch()
    try:
        first = chain.upload(key, body)
        down = chain.follow(first)
    finally:
        offline.unlink()
    assert down.status == "FAILED"
    assert key in down.message and "InternalServerException" in down.message, down.message
    assert "max retries" in down.message  # bounded: the SDK gave up after its retries
    states = [compare(chain.facts(day), expected_facts(to_csv(day_rows(day).iloc[:0])))]
    assert states[-1].exact and chain.ledger(key).empty  # nothing half-done
    assert chain.keys(chain.names.staging_prefix + re.search(r"Glue job run (\S+) ended", down.cause).group(1)) == []

    second = chain.upload(key, body)
    back = chain.follow(second)
    assert back.status == "SUCCEEDED", back.cause
    states.append(compare(chain.facts(day), expected_facts(body)))
    assert states[-1].exact, states[-1]
    # The version uploaded while the warehouse was down got no ledger row then (nothing could be written); the
    # claim of the next one records it as overtaken: every version seen has its row.
    ledger = chain.ledger(key)
    statuses = dict(zip(ledger.source_version, ledger.status, strict=True))
    assert statuses == {first.version: "SUPERSEDED", second.version: "LOADED"}
    assert chain.check_violations() == {}
    reliability.record("warehouse unavailable, then back", executions=count_executions(), comparisons=states,
                       outcome="FAILED while offline (nothing written); LOADED once after")


# ---- AWS behaviour of the local stack that the pipeline relies on ----------------------------------------


def test_reprovisioning_keeps_the_job_and_updates_it(chain):
    glue = boto3.client("glue", region_name=chain.region, config=Config(retries={"max_attempts": 1}))
    job = glue.get_job(JobName=chain.names.job)["Job"]
    runs = len(glue.get_job_runs(JobName=chain.names.job)["JobRuns"])  # the suite's runs (0 if run alone)
    definition = {k: job[k] for k in ("Role", "Command", "DefaultArguments", "ExecutionProperty", "MaxCapacity",
                                      "Timeout", "Description") if k in job}
    # What notebook 06 does on a re-run: create unless it exists, else update.
    created = ensure(glue.create_job, Name=chain.names.job, **definition)
    assert len(glue.get_job_runs(JobName=chain.names.job)["JobRuns"]) == runs, "the job's run history was lost"
    assert created is None, "CreateJob on an existing name must be refused"
    glue.update_job(JobName=chain.names.job, JobUpdate=definition)
    assert glue.get_job(JobName=chain.names.job)["Job"]["DefaultArguments"] == job["DefaultArguments"]


def test_executions_started_without_a_name_get_unique_names(chain):
    sfn = chain.client("stepfunctions")
    role = chain.client("iam").get_role(RoleName=chain.names.roles["states"])["Role"]["Arn"]
    machine = sfn.create_state_machine(name=f"e2e-unnamed-{uuid.uuid4().hex[:8]}", roleArn=role, definition=json.dumps(
        {"StartAt": "Nothing", "States": {"Nothing": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    try:
        arns = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(2)]
        names = [sfn.describe_execution(executionArn=arn).get("name") for arn in arns]
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)
    assert [arn.rsplit(":", 1)[1] for arn in arns] == names  # the name ends the ARN
    assert all(re.fullmatch(r"[0-9a-f-]{36}", name or "") for name in names) and names[0] != names[1], arns
