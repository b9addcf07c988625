"""The daily ingest state machine: valid ASL (asl-validator), and renders with its settings to valid JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from flightpipe import statemachine

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"
SETTINGS = {
    "CrawlerName": "daily-flights-crawler",
    "JobName": "daily_flights_etl",
    "TopicArn": "arn:aws:sns:us-east-1:000000000000:daily-flights",
    "ClusterId": "flightpipe",
    "Database": "dev",
    "SecretArn": "arn:aws:secretsmanager:us-east-1:000000000000:secret:redshift-abc",
    "PollSeconds": 15,
    "MaxCrawlerPolls": 40,
    "MaxStatementPolls": 30,
}


def validate(path: Path) -> subprocess.CompletedProcess:
    if not (shutil.which("node") and VALIDATOR.exists()):
        if os.environ.get("CI"):
            pytest.fail("node and node_modules/.bin/asl-validator are required in CI (run `npm install`)")
        pytest.skip("node or asl-validator missing: run `npm install`")
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, timeout=60)


def test_definition_is_valid_asl():
    result = validate(statemachine.DEFINITION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_validator_rejects_a_broken_definition(tmp_path):
    broken = json.loads(statemachine.DEFINITION.read_text())
    broken["States"]["Configure"]["Next"] = "NoSuchState"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    assert validate(path).returncode != 0


def test_rendered_definition_is_valid_json_and_asl(tmp_path):
    rendered = statemachine.render(SETTINGS)
    assert "${" not in rendered
    definition = json.loads(rendered)
    configure = definition["States"]["Configure"]["Parameters"]
    assert configure["pollSeconds.$"] == "States.StringToJson('15')"
    assert definition["States"]["RunJob"]["Parameters"]["JobName"] == "daily_flights_etl"
    path = tmp_path / "rendered.asl.json"
    path.write_text(rendered)
    assert validate(path).returncode == 0


def test_render_refuses_missing_and_unknown_names():
    assert statemachine.placeholders() == set(SETTINGS)
    with pytest.raises(KeyError, match="JobName"):
        statemachine.render({k: v for k, v in SETTINGS.items() if k != "JobName"})
    with pytest.raises(KeyError, match="Typo"):
        statemachine.render({**SETTINGS, "Typo": "x"})


def test_values_cannot_break_the_json():
    rendered = statemachine.render({**SETTINGS, "Database": 'dev"}, "x": "'})
    assert json.loads(rendered)["States"]["QueryRunLedger"]["Parameters"]["Database"] == 'dev"}, "x": "'


def test_ledger_summary_query_is_the_sql_file():
    definition = json.loads(statemachine.DEFINITION.read_text())
    sql = definition["States"]["QueryRunLedger"]["Parameters"]["Sql"]
    assert sql == (ROOT / "sql" / "run_summary.sql").read_text().strip()


def test_every_failure_path_notifies_then_fails():
    states = json.loads(statemachine.DEFINITION.read_text())["States"]
    for name, state in states.items():
        for catch in state.get("Catch", []):
            if "States.ALL" in catch["ErrorEquals"]:
                assert catch["Next"] in ("NotifyFailure", "ExplainJobFailure", "JobRunInCause?"), name
    guard = states["JobRunInCause?"]  # only a JobRun JSON in Cause is explained; anything else is announced as is
    assert [c["Next"] for c in guard["Choices"]] == ["ExplainJobFailure"] and guard["Default"] == "NotifyFailure"
    assert states["ExplainJobFailure"]["Next"] == "NotifyFailure"
    assert states["NotifyFailure"]["Next"] == "Failed" and states["Failed"]["Type"] == "Fail"
    assert states["NotifySuccess"]["Next"] == "Done" and states["Done"]["Type"] == "Succeed"
