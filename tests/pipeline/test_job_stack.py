"""The Glue job against the local stack: versioned S3, the Glue catalog, the Redshift Data API over DuckDB.

The expected fact rows are always computed independently, with pandas, from the raw CSV and
data/airports.csv (see conftest.expected_facts).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import boto3
import pandas as pd
import pytest

from flightpipe import job_wheel
from flightpipe_job.data_api import Warehouse
from flightpipe_job.errors import JobFailed
from flightpipe_job.loading import load_batch
from flightpipe_job.settings import parse_args

ROOT = Path(__file__).resolve().parents[2]
CHECKS = sorted((ROOT / "sql" / "checks").glob("*.sql"))


def run_checks(pipeline) -> dict[str, int]:
    """Every data check of sql/checks: name -> number of offending rows (0 = pass)."""
    found = {}
    for path in CHECKS:
        params = {"max_running_minutes": 60} if ":max_running_minutes" in path.read_text() else None
        found[path.stem] = len(pipeline.warehouse.query(path.read_text(), params))
    return found


def test_each_day_equals_an_independent_pandas_computation(pipeline, nyc_days, expected):
    for day, body in nyc_days.items():
        pipeline.put_day(day, body)
    summary = pipeline.run(object_key=pipeline.key("2013-01-01"))

    assert sorted(str(r["flight_date"]) for r in summary["loads"]) == sorted(nyc_days)
    null_arrivals = 0
    for day, body in nyc_days.items():
        want = expected(body)
        assert len(want) > 0
        assert expected.normalise(pipeline.facts(day)).equals(want), day
        null_arrivals += int(want.arr_delay.isna().sum())
    assert null_arrivals > 0  # the sample really exercises "NULL arr_delay is kept"
    assert set(run_checks(pipeline).values()) == {0}
    ledger = pipeline.ledger()
    assert list(ledger.status) == ["LOADED"] * 3
    assert pipeline.objects("staging/") == []  # staging cleaned up
    assert len(pipeline.objects("raw/")) == 3  # raw data untouched

    # The state machine's summary of the run (sql/run_summary.sql) agrees with the ledger rows.
    summary_sql = (ROOT / "sql" / "run_summary.sql").read_text()
    (row,) = pipeline.warehouse.query(summary_sql, {"job_run_id": summary["job_run_id"]}).to_dict("records")
    assert row["objects"] == "3" and row["days"] == "2013-01-01 LOADED, 2013-01-02 LOADED, 2013-01-03 LOADED"
    assert int(row["rows_loaded"]) == sum(len(expected(body)) for body in nyc_days.values())
    assert int(row["rows_read"]) == sum(body.count(b"\n") - 1 for body in nyc_days.values())


def test_reruns_and_reuploads_are_idempotent(pipeline, nyc_days, expected):
    day1, day2, other = "2013-01-01", "2013-01-02", nyc_days["2013-01-03"]
    pipeline.put_day(day1, nyc_days[day1])
    pipeline.run(object_key=pipeline.key(day1))
    first = pipeline.facts()

    # The same object again: the ledger says it is loaded, nothing happens.
    again = pipeline.run(object_key=pipeline.key(day1))
    assert again["loads"] == []
    # The same bytes uploaded twice more (new versions): each replaces the day with identical rows.
    for _ in range(2):
        pipeline.put_day(day1, nyc_days[day1])
        pipeline.run(object_key=pipeline.key(day1))
    assert expected.normalise(pipeline.facts()).equals(expected.normalise(first))
    assert len(pipeline.facts()) == len(first)
    statuses = pipeline.ledger().status.tolist()
    assert statuses.count("LOADED") == 1 and statuses.count("SUPERSEDED") == 2

    # Another day: both present, day 1 unchanged.
    pipeline.put_day(day2, nyc_days[day2])
    pipeline.run(object_key=pipeline.key(day2))
    assert expected.normalise(pipeline.facts(day1)).equals(expected(nyc_days[day1]))
    assert expected.normalise(pipeline.facts(day2)).equals(expected(nyc_days[day2]))

    # Day 1 re-uploaded with different bytes: the day equals the new file, day 2 is untouched.
    pipeline.put_day(day1, other)
    pipeline.run(object_key=pipeline.key(day1))
    assert expected.normalise(pipeline.facts(day1)).equals(expected(other))
    assert expected.normalise(pipeline.facts(day2)).equals(expected(nyc_days[day2]))
    assert set(run_checks(pipeline).values()) == {0}


def test_bad_rows_are_rejected_with_reasons_and_the_rest_loads(pipeline, nyc_days, expected):
    good = nyc_days["2013-01-02"].decode().splitlines()
    bad_rows = [
        "AA,12478,13303",  # wrong number of fields
        ",12478,13303,75,80",  # empty carrier
        "AA,12478,13303,late,80",  # non-numeric delay
        "AA,12478,13303,99999,80",  # absurd delay
        "AA,99999,13303,75,80",  # airport not in the dimension
        "AA,JFK,13303,75,80",  # non-integer airport id
    ]
    lines = good[:50] + bad_rows + good[50:]
    body = ("\r\n".join(lines) + "\r\n").encode()
    pipeline.put_day("2013-01-02", body)
    summary = pipeline.run(object_key=pipeline.key("2013-01-02"))

    (load,) = summary["loads"]
    assert load["status"] == "LOADED"
    assert load["rows_rejected"] == len(bad_rows)
    assert load["rows_read"] == len(lines) - 1
    assert load["rows_read"] == load["rows_loaded"] + load["rows_rejected"] + load["rows_filtered"]
    # The valid rows are exactly the day's real rows.
    assert expected.normalise(pipeline.facts("2013-01-02")).equals(expected(nyc_days["2013-01-02"]))

    location = load["rejects_location"]
    key = location.split("/", 3)[3]
    assert key.startswith("rejects/flights/date=2013-01-02/") and key.endswith(".csv")
    rejects = pd.read_csv(io.BytesIO(boto3.client("s3").get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()),
                          dtype=str, keep_default_na=False)
    # Line numbers point at the bad lines of the file (header = line 1).
    assert rejects.source_line.astype(int).tolist() == [lines.index(row) + 1 for row in bad_rows]
    reasons = rejects.reason.tolist()
    for expected_words, reason in zip(
        ["number of fields", "Carrier", "DepDelay is not a number", "outside", "not in airlines.airports_dim",
         "not an integer"], reasons, strict=True,
    ):
        assert expected_words in reason
    assert set(run_checks(pipeline).values()) == {0}


WHOLE_FILE_PROBLEMS = {
    "empty": (b"", "empty"),
    "header only": (b"Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay\n", "no data rows"),
    "missing column": (b"Carrier,OriginAirportID,DestAirportID,DepDelay\nAA,12478,13303,75\n", "missing"),
    "renamed column": (b"Carrier,Origin,DestAirportID,DepDelay,ArrDelay\nAA,12478,13303,75,1\n", "unexpected"),
    "extra column": (b"Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay,Tail\nAA,1,2,3,4,5\n",
                     "unexpected"),
    "not a csv": (bytes(range(256)) * 4, "not a CSV"),
}


@pytest.mark.parametrize("problem", sorted(WHOLE_FILE_PROBLEMS))
def test_an_unusable_file_fails_cleanly_and_good_days_still_load(pipeline, nyc_days, expected, problem):
    body, words = WHOLE_FILE_PROBLEMS[problem]
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"])
    pipeline.run()
    before = pipeline.facts()

    bad_version = pipeline.put_day("2013-01-01", body)
    pipeline.put_day("2013-01-02", nyc_days["2013-01-02"])
    with pytest.raises(JobFailed) as failure:
        pipeline.run(object_key=pipeline.key("2013-01-01"))
    message = str(failure.value)
    assert f"s3://{pipeline.bucket}/{pipeline.key('2013-01-01')}?versionId={bad_version}" in message
    assert words in message and "\n" not in message

    # Day 1 is untouched; day 2, in the same run, loaded.
    after = pipeline.facts("2013-01-01")
    assert expected.normalise(after).equals(expected.normalise(before))
    assert set(after.load_id) == set(before.load_id)
    assert len(pipeline.facts("2013-01-02")) > 0
    ledger = pipeline.ledger()
    failed = ledger[ledger.source_version == bad_version]
    assert failed.status.tolist() == ["FAILED"] and words in failed.error.iloc[0]
    # The bad version is not retried by the next run for another day, and the check names the stale day.
    pipeline.put_day("2013-01-03", nyc_days["2013-01-03"])
    assert [str(r["flight_date"]) for r in pipeline.run()["loads"]] == ["2013-01-03"]
    assert run_checks(pipeline)["ledger_loaded_not_latest"] == 1


def test_a_failing_transaction_leaves_the_previous_state(pipeline, nyc_days, expected):
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"])
    pipeline.run()
    before_facts, before_loaded = pipeline.facts(), pipeline.ledger().query("status == 'LOADED'")

    pipeline.put_day("2013-01-01", nyc_days["2013-01-03"])
    with pytest.raises(JobFailed, match="load .* failed"):
        pipeline.run("--fault", "fail_in_transaction", object_key=pipeline.key("2013-01-01"))
    after = pipeline.facts()
    assert expected.normalise(after).equals(expected.normalise(before_facts))
    assert set(after.load_id) == set(before_facts.load_id)
    ledger = pipeline.ledger()
    assert ledger.query("status == 'LOADED'").load_id.tolist() == before_loaded.load_id.tolist()
    assert ledger.status.tolist()[-1] == "FAILED"
    assert pipeline.objects("staging/") == []
    # The failure was the run's, not the file's: the next run loads the new version.
    pipeline.run()
    assert len(pipeline.facts()) != len(before_facts)
    assert set(run_checks(pipeline).values()) == {0}


def start_glue_job(pipeline, *extra: str, run_id: str) -> str:
    """Run the job script the way Glue does (a subprocess started by StartJobRun) with the identity `run_id`
    (what the state machine passes as --run_id); return the Glue run id."""
    glue, s3 = boto3.client("glue"), boto3.client("s3")
    s3.upload_file(str(ROOT / "glue_job" / "daily_flights_etl.py"), pipeline.bucket, "scripts/daily_flights_etl.py")
    wheel = job_wheel.build()  # the job's library, passed as Glue passes it: --extra-py-files (notebook 06)
    s3.upload_file(str(wheel), pipeline.bucket, f"scripts/{wheel.name}")
    name = f"daily_flights_etl_{pipeline.bucket[-10:]}"
    defaults = dict(zip(pipeline.args()[4::2], pipeline.args()[5::2], strict=True))  # everything but job name/run id
    defaults["--job_name"] = name
    defaults["--extra-py-files"] = f"s3://{pipeline.bucket}/scripts/{wheel.name}"
    extra = (*extra, "--run_id", run_id)
    try:
        glue.create_job(
            Name=name, Role=pipeline.role_arn, GlueVersion="3.0", MaxCapacity=0.0625, Timeout=10,
            Command={"Name": "pythonshell", "PythonVersion": "3.9",
                     "ScriptLocation": f"s3://{pipeline.bucket}/scripts/daily_flights_etl.py"},
            DefaultArguments=defaults,
        )
    except glue.exceptions.AlreadyExistsException:
        pass
    arguments = dict(zip(extra[::2], extra[1::2], strict=True))
    glue_run_id = glue.start_job_run(JobName=name, Arguments=arguments)["JobRunId"]
    deadline = time.monotonic() + 120
    while True:
        state = glue.get_job_run(JobName=name, RunId=glue_run_id)["JobRun"]["JobRunState"]
        if state not in ("STARTING", "RUNNING", "STOPPING", "WAITING"):
            return glue_run_id
        assert time.monotonic() < deadline, "the Glue job run did not finish"
        time.sleep(0.2)


def test_a_crashed_run_is_taken_over_and_the_day_loads_once(pipeline, nyc_days, expected):
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"])
    crashed = f"exec-crashed-{pipeline.bucket[-10:]}"
    glue_run = start_glue_job(pipeline, "--fault", "exit_before_load", run_id=crashed)
    run = boto3.client("glue").get_job_runs(JobName=f"daily_flights_etl_{pipeline.bucket[-10:]}")["JobRuns"][0]
    assert run["JobRunState"] == "FAILED" and run["Id"] == glue_run
    ledger = pipeline.ledger()
    assert ledger.status.tolist() == ["RUNNING"] and ledger.job_run_id.tolist() == [crashed]
    assert pipeline.facts().empty

    pipeline.run()  # a normal run: the claim's Glue run is FAILED, so it takes over
    assert expected.normalise(pipeline.facts()).equals(expected(nyc_days["2013-01-01"]))
    ledger = pipeline.ledger()
    assert ledger.status.tolist() == ["FAILED", "LOADED"]
    assert "abandoned" in ledger.error.iloc[0]
    assert pipeline.run()["loads"] == []  # and nothing is left to do
    assert set(run_checks(pipeline).values()) == {0}


def test_an_older_version_never_replaces_a_newer_one(pipeline, nyc_days, expected):
    """A slow run that staged v1 commits after a run that loaded v2: the load transaction skips v1."""
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"])
    slow = f"jr_slow_{pipeline.bucket[-10:]}"
    slow_args = pipeline.args(run_id=slow)
    # Stage v1 and stop before loading (its staged files stay behind, as a slow run's would).
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "glue_job" / "daily_flights_etl.py"), *slow_args,
                    "--fault", "exit_before_load"], check=False, capture_output=True)
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    pipeline.put_day("2013-01-01", nyc_days["2013-01-02"])
    pipeline.run("--claim_timeout_minutes", "0")
    newer = expected.normalise(pipeline.facts())

    # The slow run's transaction finally commits: it must not put v1 back.
    args = parse_args(slow_args)
    db = Warehouse(args)
    db.batch(load_batch(args), "late load")
    assert expected.normalise(pipeline.facts()).equals(newer)
    assert newer.equals(expected(nyc_days["2013-01-02"]))
    ledger = pipeline.ledger().set_index("job_run_id")
    assert ledger.loc[slow, "status"] in ("SKIPPED", "FAILED")
