"""The runbooks as a user runs them: `flightpipe run …` and `flightpipe sql …` against a local stack.

One project (`-p project clitest`) goes through its whole life: provisioned twice, a day that is not among the
shipped samples ingested from a file of our own, queried from the terminal, torn down.
"""

import io
import os
import subprocess
import sys

import boto3
import pandas as pd
import pytest

from flightpipe import samples
from flightpipe.expected import day_facts

pytestmark = pytest.mark.e2e
PROJECT = "clitest"
DAY = "2013-06-15"


def flightpipe(*args, runs):
    env = {**os.environ, "FLIGHTPIPE_RUNS": str(runs)}
    return subprocess.run([sys.executable, "-m", "flightpipe.cli", *args], env=env, capture_output=True,
                          text=True, timeout=900)


def test_provision_twice_ingest_a_new_day_query_and_teardown(local_stack, tmp_path):
    runs = tmp_path / "runs"
    for attempt in (1, 2):  # provisioning is idempotent
        provisioned = flightpipe("run", "provision", "-p", "project", PROJECT, runs=runs)
        assert provisioned.returncode == 0, f"attempt {attempt}: {provisioned.stderr[-2000:]}"
        assert [line.split(" … ")[0] for line in provisioned.stdout.splitlines()[:2]] == [
            "[1/9] 00_overview.ipynb", "[2/9] 01_iam.ipynb"]  # one line per notebook, as it starts

    source = samples.write_days(pd.Timestamp(DAY).date(), pd.Timestamp(DAY).date(), tmp_path / "feed")[0]
    daily = flightpipe("run", "daily", "-p", "project", PROJECT, "-p", "run_date", DAY, "-p", "source_path",
                       str(source), runs=runs)
    assert daily.returncode == 0, daily.stderr[-3000:]
    report = daily.stdout.strip().rsplit("report: ", 1)[1]
    assert os.path.exists(report) and "LOADED" in open(report).read()

    sql = flightpipe("sql", "--project", PROJECT, "SELECT carrier, dep_delay FROM airlines.daily_flights_fact "
                     f"WHERE flight_date = '{DAY}' ORDER BY carrier, dep_delay", runs=runs)
    assert sql.returncode == 0, sql.stderr[-2000:]
    facts = pd.read_csv(io.StringIO(sql.stdout))
    want = day_facts(source.read_bytes())[["carrier", "dep_delay"]]
    want = want.sort_values(["carrier", "dep_delay"], ignore_index=True)
    assert len(facts) > 0 and facts.carrier.tolist() == want.carrier.tolist()
    assert facts.dep_delay.tolist() == want.dep_delay.astype(int).tolist()

    torn = flightpipe("run", "teardown", "-p", "project", PROJECT, runs=runs)
    assert torn.returncode == 0, torn.stderr[-2000:]
    clusters = boto3.client("redshift").describe_clusters()["Clusters"]
    assert PROJECT not in [c["ClusterIdentifier"] for c in clusters]


def test_a_bad_date_is_refused_naming_the_parameter(local_stack, tmp_path):
    failed = flightpipe("run", "daily", "-p", "run_date", "2013-02-30", runs=tmp_path / "runs")
    assert failed.returncode == 1
    assert failed.stderr == "-p run_date 2013-02-30: not a date (day is out of range for month); give YYYY-MM-DD\n"
    assert not (tmp_path / "runs").exists()  # refused before any notebook ran


def test_sql_prints_csv(provisioned_stack, tmp_path):
    # the default project's warehouse, as `flightpipe run provision` leaves it (tests/conftest.py)
    out = flightpipe("sql", "SELECT airport_id, city FROM airlines.airports_dim ORDER BY airport_id LIMIT 3",
                     runs=tmp_path / "runs")
    assert out.returncode == 0, out.stderr
    frame = pd.read_csv(io.StringIO(out.stdout))
    airports = pd.read_csv(samples.ROOT / "data" / "airports.csv").sort_values("airport_id").head(3)
    assert frame.columns.tolist() == ["airport_id", "city"]
    assert frame.airport_id.tolist() == airports.airport_id.tolist() and frame.city.tolist() == airports.city.tolist()
