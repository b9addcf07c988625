"""The peer check's verdict: a test that passes on plain moto and fails extended is a regression unless documented."""

from __future__ import annotations

from flightpipe_local.peer_check import __main__ as peer_check
from flightpipe_local.peer_check.exceptions import AS_ON_AWS

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.test_glue.test_glue" name="test_a" time="0.1"/>
<testcase classname="tests.test_glue.test_glue" name="test_b" time="0.1"><failure message="x">boom</failure></testcase>
<testcase classname="tests.test_s3.test_s3" name="test_c" time="0.1"><skipped message="docker"/></testcase>
<testcase classname="tests.test_s3.test_s3" name="test_d" time="0.1"><error message="fixture">bad</error></testcase>
</testsuite></testsuites>"""


def test_outcomes_are_read_from_the_junit_report(tmp_path):
    report = tmp_path / "run.xml"
    report.write_text(JUNIT)
    assert peer_check.outcomes(report) == {
        "test_glue.test_glue.test_a": "passed",
        "test_glue.test_glue.test_b": "failed",
        "test_s3.test_s3.test_c": "skipped",
        "test_s3.test_s3.test_d": "failed",
    }


def test_only_undocumented_regressions_fail_the_check():
    documented = next(t for t in AS_ON_AWS if t.startswith("test_glue."))
    plain = {"test_glue.x.kept": "passed", "test_glue.x.broken": "passed", documented: "passed",
             "test_glue.x.fixed": "failed", "test_s3.y.same": "passed"}
    extended = {**plain, "test_glue.x.broken": "failed", documented: "failed", "test_glue.x.fixed": "passed"}
    table, unexpected = peer_check.report(plain, extended, ["glue", "s3"])
    assert unexpected == ["test_glue.x.broken"]
    assert "| glue | 4 | 3 | 2 | 3 (1) |" in table
    assert "| s3 | 1 | 1 | 1 | 0 (0) |" in table
    assert "Pass only with the extensions (1):\n- `test_glue.x.fixed`" in table
    assert f"- {AS_ON_AWS[documented]}:\n  - `{documented}`" in table
    assert "Regressions: pass on plain moto, fail with the extensions (1):\n- `test_glue.x.broken` (failed)" in table


def test_every_documented_exception_names_its_aws_source():
    assert AS_ON_AWS
    for test_id, why in AS_ON_AWS.items():
        assert test_id.split(".", 1)[0].removeprefix("test_") in peer_check.SUITES, test_id
        # each names the AWS page it rests on: an API reference, a User Guide or a developer guide
        assert any(source in why for source in ("API reference", "User Guide", "developer guide")), test_id


def test_a_test_id_becomes_the_node_id_that_runs_it_again(tmp_path):
    (tmp_path / "tests" / "test_glue").mkdir(parents=True)
    (tmp_path / "tests" / "test_glue" / "test_jobs.py").write_text("")
    assert peer_check.node_id(tmp_path, "test_glue.test_jobs.test_run[Mocked]") == (
        "tests/test_glue/test_jobs.py::test_run[Mocked]"
    )
    assert peer_check.node_id(tmp_path, "test_glue.test_jobs.TestRuns.test_run") == (
        "tests/test_glue/test_jobs.py::TestRuns::test_run"
    )
