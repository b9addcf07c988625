"""The local stack keeps its whole state across `flightpipe local stop` + `start` and a SIGKILL.

Each test runs its own background stack through the CLI (its own FLIGHTPIPE_HOME and port), started from the
state the `provision` runbook left (provisioned once per test run, tests/conftest.py), loads days, restarts the
stack, then ingests a new day WITHOUT provisioning again and checks everything from the ledger to S3's versions.
Expected facts come from pandas (`expected_facts`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import time
from pathlib import Path

import pytest
from e2e_support import Chain, compare, expected_facts, to_csv

from flightpipe.runbook import run_runbook

pytestmark = pytest.mark.e2e


def assert_days_exact(chain: Chain, bodies: dict[str, bytes]) -> None:
    for day, body in bodies.items():
        state = compare(chain.facts(day), expected_facts(body))
        assert state.exact, f"{day}: {state}"


def assert_ledger_names_existing_versions(chain: Chain) -> None:
    """Every ledger row names an S3 version that still exists: no warehouse without its sources."""
    versions = set(chain.raw_versions())
    ledger = chain.query("SELECT source_key, source_version, status FROM airlines.load_ledger")
    missing = [row for row in ledger.itertuples() if (row.source_key, row.source_version) not in versions]
    assert not missing, f"ledger rows whose S3 version is gone: {missing}"


def test_stop_and_start_keep_everything_and_a_new_day_loads_without_provisioning(provisioned_stack, tmp_path,
                                                                               day_rows, provisioned):
    chain = Chain.provisioned(provisioned_stack.home, provisioned.run_dir)
    bodies = {day: to_csv(day_rows(day)) for day in ("2013-03-01", "2013-03-02")}
    uploads = {}
    for day, body in bodies.items():
        uploads[day] = chain.upload(chain.key(day), body)
        outcome = chain.follow(uploads[day])
        assert outcome.status == "SUCCEEDED", outcome.cause
    assert_days_exact(chain, bodies)
    before = {"versions": chain.raw_versions(), "executions": {e["executionArn"]: e["status"]
                                                              for e in chain.executions()},
              "tables": chain.table_counts()}

    provisioned_stack.stop()
    provisioned_stack.start()

    # Everything is back as it was: S3 versions, executions, the warehouse, the secret, the queue.
    assert chain.raw_versions() == before["versions"]
    assert {e["executionArn"]: e["status"] for e in chain.executions()} == before["executions"]
    assert chain.table_counts() == before["tables"]
    assert_days_exact(chain, bodies)
    for day, upload in uploads.items():
        assert chain.ledger(upload.key, upload.version).status.tolist() == ["LOADED"], day

    # A new day through the daily runbook, which validates at its end (every data check must pass).
    run_runbook("daily", {"run_date": "2013-01-02"}, out_dir=tmp_path / "daily")
    new_day = (Path(__file__).resolve().parents[2] / "data" / "samples" / "date=2013-01-02" / "flights.csv")
    assert_days_exact(chain, {**bodies, "2013-01-02": new_day.read_bytes()})
    assert chain.check_violations() == {}
    assert_ledger_names_existing_versions(chain)
    peak = provisioned_stack.peak_rss_mb()
    print(f"stack peak RSS after the restart and a day: {peak:.0f} MB")
    assert peak < 1024, f"the stack's resident memory peaked at {peak:.0f} MB"


def job_processes(home: Path) -> list[int]:
    """Pids of the Glue job scripts of this stack (each runs in its run's folder under glue/jobs/)."""
    jobs, found = (home / "glue" / "jobs").resolve(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(jobs):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def pause_job_once_it_claims(chain: Chain, home: Path, upload, timeout: float = 90) -> list[int]:
    """Let the job run in short slices until its RUNNING ledger claim on `upload` is there; leave it paused."""
    deadline = time.monotonic() + timeout
    while not (pids := job_processes(home)):
        assert time.monotonic() < deadline, "no Glue job process started"
        time.sleep(0.02)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    while "RUNNING" not in chain.ledger(upload.key, upload.version).status.tolist():
        assert time.monotonic() < deadline, "the job never claimed the upload"
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
    return pids


def test_a_sigkill_during_an_execution_restores_the_last_snapshot_consistently(provisioned_stack, day_rows,
                                                                              provisioned):
    chain = Chain.provisioned(provisioned_stack.home, provisioned.run_dir)
    loaded = {"2013-04-01": to_csv(day_rows("2013-04-01"))}
    outcome = chain.follow(chain.upload(chain.key("2013-04-01"), loaded["2013-04-01"]))
    assert outcome.status == "SUCCEEDED", outcome.cause

    # Upload a day; pause its job once it holds its ledger claim; kill the stack once a snapshot has that.
    interrupted_body = to_csv(day_rows("2013-04-02"))
    interrupted = chain.upload(chain.key("2013-04-02"), interrupted_body)
    arn = chain.wait_for_execution(interrupted)
    paused = pause_job_once_it_claims(chain, provisioned_stack.home, interrupted)
    claimed_at = dt.datetime.now(dt.UTC)
    deadline = time.monotonic() + 30
    while (provisioned_stack.saved_at() or claimed_at) <= claimed_at:
        assert time.monotonic() < deadline, "no snapshot was taken while the job held its claim"
        time.sleep(0.2)
    os.kill(provisioned_stack.pid, signal.SIGKILL)

    provisioned_stack.start()  # the same port at once: a dead pid, a zombie or a TIME_WAIT socket must not stop it

    # The paused job of the dead stack is gone before the new one answers: it cannot load late. Whoever is
    # first kills it: the warm Glue runtime, which kills its runs when the stack that started them is gone, or
    # the new stack, which kills any job process left in its state folder (and says so in its log).
    assert not set(paused) & set(job_processes(provisioned_stack.home))
    killed = re.search(r"killed (\d+) Glue job process\(es\) left by the previous stack", provisioned_stack.log())
    assert killed is None or int(killed.group(1)) <= len(paused)
    desc = chain.client("stepfunctions").describe_execution(executionArn=arn)
    assert desc["status"] == "FAILED" and desc["error"] == "Local.StackStopped", desc
    assert "stopped while this execution was running" in desc["cause"] and "stopDate" in desc
    runs = chain.client("glue").get_job_runs(JobName=chain.names.job)["JobRuns"]
    run_id = chain.ledger(interrupted.key, interrupted.version).job_run_id[0]  # the execution's name (--run_id)
    dead = next(r for r in runs if r.get("Arguments", {}).get("--run_id") == run_id)
    assert dead["JobRunState"] == "FAILED" and "stopped while this job run was running" in dead["ErrorMessage"]
    assert (interrupted.key, interrupted.version) in chain.raw_versions()  # the upload is in the snapshot
    assert chain.ledger(interrupted.key, interrupted.version).status.tolist() == ["RUNNING"]  # the dead claim
    assert_days_exact(chain, loaded)  # the day loaded before is intact

    # A new day: the job takes the dead run's claim over and loads both days exactly once.
    new_body = to_csv(day_rows("2013-04-03"))
    outcome = chain.follow(chain.upload(chain.key("2013-04-03"), new_body))
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert_days_exact(chain, {**loaded, "2013-04-02": interrupted_body, "2013-04-03": new_body})
    ledger = chain.ledger(interrupted.key, interrupted.version)
    assert ledger.status.tolist() == ["FAILED", "LOADED"]
    assert "abandoned" in ledger.error[0] and bool(ledger.retryable[0])
    assert chain.check_violations() == {}
    assert_ledger_names_existing_versions(chain)
