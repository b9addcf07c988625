"""The operator's check (`flightpipe run check`, notebook 30) against a local stack: a loaded day passes, a day
whose file never arrived fails saying so, an unprovisioned project fails saying what to run."""

import datetime as dt

import pytest

from flightpipe import day_check
from flightpipe.config import PROJECT_ROOT
from flightpipe.expected import day_facts
from flightpipe.runbook import RunbookFailed, run_runbook

UNPROVISIONED = "checkday"
DAY = "2013-01-02"


def test_yesterday_utc_is_the_default_day():
    assert day_check.day_to_check("", today=dt.date(2026, 3, 1)) == dt.date(2026, 2, 28)
    assert day_check.day_to_check("2013-01-02") == dt.date(2013, 1, 2)


@pytest.mark.parametrize("execution, says", [
    ({"name": "x1", "status": "FAILED", "error": "States.TaskFailed", "cause": "job   failed"},
     "execution x1 ended FAILED (States.TaskFailed: job failed)"),
    ({"name": "x2", "status": "RUNNING", "startDate": dt.datetime(2013, 1, 3, 4, 5)},
     "execution x2 is still running (started 2013-01-03 04:05 UTC)"),
    ({"name": "x3", "status": "TIMED_OUT"}, "execution x3 ended TIMED_OUT"),
])
def test_an_execution_that_did_not_succeed_is_named_with_its_status(execution, says):
    with pytest.raises(day_check.DayNotLoaded, match=says.replace("(", r"\(").replace(")", r"\)")):
        day_check.execution_ended_well(execution)


@pytest.mark.e2e
def test_the_check_passes_for_a_loaded_day_and_says_why_it_fails_otherwise(provisioned_stack, tmp_path):
    with pytest.raises(RunbookFailed, match=r"NotProvisioned: project 'checkday' is not provisioned .*: run "
                                            r"`flightpipe run provision -p project checkday` or notebooks 01–08 first"):
        run_runbook("check", {"project": UNPROVISIONED, "run_date": DAY}, out_dir=tmp_path / "unprovisioned")

    # The default project, provisioned (tests/conftest.py) on a stack of this test's own.
    run_runbook("daily", {"run_date": DAY}, out_dir=tmp_path / "daily")

    report = run_runbook("check", {"run_date": DAY}, out_dir=tmp_path / "ok")
    loaded = len(day_facts((PROJECT_ROOT / "data" / "samples" / f"date={DAY}" / "flights.csv").read_bytes()))
    checks = len(list((PROJECT_ROOT / "sql" / "checks").glob("*.sql")))
    assert f"{DAY}: OK: arrived, execution SUCCEEDED, ledger LOADED ({loaded} rows), {checks} data checks pass" in (
        report.read_text())

    with pytest.raises(RunbookFailed, match=r"DayNotLoaded: no file at s3://.*/raw/flights/date=2013-01-09/"
                                            r"flights\.csv: the upstream upload has not arrived"):
        run_runbook("check", {"run_date": "2013-01-09"}, out_dir=tmp_path / "missing")
