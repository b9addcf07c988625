"""The job's boto3 session reads the Data API model shipped with the job (flightpipe_job/models/).

Also run on Glue's runtime (test_job_on_glue_runtime.py), where it matters: botocore 1.25.5's own model of the
Data API has no WaitTimeSeconds, and the job's wheel is on sys.path as a zip there. Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from flightpipe_job import data_api, session

# Data API Reference: DescribeStatement, GetStatementResult, ExecuteStatement and BatchExecuteStatement each take
# "WaitTimeSeconds ... The maximum value is 30 seconds."
WAITING_OPERATIONS = ("DescribeStatement", "GetStatementResult", "ExecuteStatement", "BatchExecuteStatement")


@pytest.fixture()
def fresh_session(monkeypatch):
    """No default session yet, as in a new job process (monkeypatch puts the earlier one back afterwards)."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)


def data_api_client(job_session: boto3.Session):
    return job_session.client("redshift-data", region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")  # noqa: S106 - a stub's credentials


def test_the_job_session_waits_for_a_statement_in_one_call(fresh_session):
    client = data_api_client(session.job_session())
    model = client.meta.service_model
    for operation in WAITING_OPERATIONS:
        assert "WaitTimeSeconds" in model.operation_model(operation).input_shape.members, operation
    assert data_api.describe_waits(client)
    stub = Stubber(client)
    stub.add_response("describe_statement", {"Id": "s1", "Status": "FINISHED"}, {"Id": "s1", "WaitTimeSeconds": 30})
    with stub:
        assert data_api.wait_for_statement(client, "s1", 30, "q")["Status"] == "FINISHED"
    stub.assert_no_pending_responses()  # one call, no polling


def test_the_job_session_is_the_default_session_and_made_once(fresh_session):
    first = session.job_session()
    assert boto3.DEFAULT_SESSION is first and session.job_session() is first
    # boto3.client() without a session (DataApiClient's way) uses it, the shipped model with it
    client = boto3.client("redshift-data", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")  # noqa: S106 - a stub's credentials
    assert data_api.describe_waits(client)


def test_an_aws_data_path_of_the_environment_is_still_searched(fresh_session, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    job_session = session.job_session()
    paths = job_session._session.get_config_variable("data_path").split(os.pathsep)
    assert paths[1:] == [str(tmp_path)]
    assert Path(paths[0], *session.MODEL).is_file()  # a real file, also when the wheel is zipped


def test_the_shipped_model_keeps_everything_the_runtimes_own_model_has():
    # Only additions: every operation, input member and output member of this botocore's own model of the
    # Data API is in the shipped one, so no call the job makes loses anything.
    own = botocore.session.Session()
    own_model = own.get_service_model("redshift-data")
    shipped = json.loads(Path(session.models_folder(), *session.MODEL).read_text())
    assert shipped["metadata"]["apiVersion"] == own_model.api_version == session.MODEL[1]
    for name in own_model.operation_names:
        assert name in shipped["operations"], name
        for side in ("input", "output"):
            shape = getattr(own_model.operation_model(name), f"{side}_shape")
            if shape is None:
                continue
            shipped_members = shipped["shapes"][shipped["operations"][name][side]["shape"]]["members"]
            assert set(shape.members) <= set(shipped_members), (name, side)
