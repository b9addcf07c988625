"""The job's Data API wait and its retry of a transaction that lost a serializable conflict, on a fake client.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from flightpipe_job import data_api
from flightpipe_job.errors import DataApiError
from flightpipe_job.session import job_session

# Redshift's text for a transaction that lost a serializable conflict (doc "Serializable isolation").
CONFLICT = "ERROR: 1023 DETAIL: Serializable isolation violation on table - 123456"


class FakeDataApi:
    """DescribeStatement answers: each statement id goes through `states` (the last one repeats)."""

    def __init__(self, *states: str, error: str = "relation \"no_such_table\" does not exist"):
        self.states, self.error, self.polls, self.submitted = list(states), error, 0, 0

    def describe_statement(self, Id):  # noqa: N803 - boto3's names
        state = self.states[min(self.polls, len(self.states) - 1)]
        self.polls += 1
        return {"Id": Id, "Status": state, **({"Error": self.error} if state in ("FAILED", "ABORTED") else {})}

    def execute_statement(self, **kwargs):
        self.submitted += 1
        return {"Id": f"s{self.submitted}"}


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(data_api.time, "sleep", lambda seconds: None)


def test_a_statement_is_awaited_until_it_finishes():
    client = FakeDataApi("SUBMITTED", "STARTED", "FINISHED")
    assert data_api.wait_for_statement(client, "s1", 60, "read")["Status"] == "FINISHED"
    assert client.polls == 3


@pytest.mark.parametrize("state", ["FAILED", "ABORTED"])
def test_a_failed_or_aborted_statement_raises_with_its_error_and_description(state):
    with pytest.raises(DataApiError, match=f"^read: {state}: relation") as failure:
        data_api.wait_for_statement(FakeDataApi("STARTED", state), "s1", 60, "read")
    assert failure.value.desc["Status"] == state


def test_a_statement_not_finished_in_time_raises_naming_it():
    with pytest.raises(DataApiError, match="read: statement s1 not finished after 0s") as failure:
        data_api.wait_for_statement(FakeDataApi("STARTED"), "s1", 0, "read")
    assert failure.value.desc["Status"] == "STARTED"


def client_for(fake: FakeDataApi, monkeypatch) -> data_api.DataApiClient:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")  # boto3 builds a client offline, given a region
    args = SimpleNamespace(statement_timeout_seconds=60, redshift_database="dev", redshift_cluster_id="c1",
                           redshift_workgroup="", redshift_secret_arn="", redshift_db_user="awsuser")
    client = data_api.DataApiClient(args)
    assert client.target == {"Database": "dev", "ClusterIdentifier": "c1", "DbUser": "awsuser"}
    client.client = fake
    return client


def test_a_serializable_conflict_is_submitted_again_and_other_failures_are_not(monkeypatch):
    fake = FakeDataApi("FAILED", "FAILED", "FINISHED", error=CONFLICT)
    assert client_for(fake, monkeypatch).execute("SELECT 1", "read")["Status"] == "FINISHED"
    assert fake.submitted == 3
    other = FakeDataApi("FAILED")
    with pytest.raises(DataApiError, match="does not exist"):
        client_for(other, monkeypatch).execute("SELECT 1", "read")
    assert other.submitted == 1


def test_a_started_query_is_submitted_at_once_and_awaited_when_its_rows_are_asked_for(monkeypatch):
    fake = FakeDataApi("FAILED", "FINISHED", error=CONFLICT)
    client = client_for(fake, monkeypatch)
    rows = client.start_query("SELECT 1", "read")
    assert (fake.submitted, fake.polls) == (1, 0)  # submitted, not waited for yet
    assert rows() == []  # a lost conflict is submitted again, as execute does; no result set here
    assert (fake.submitted, fake.polls) == (2, 2)
    failing = FakeDataApi("FAILED")
    rows = client_for(failing, monkeypatch).start_query("SELECT 1", "read the airport ids")
    with pytest.raises(DataApiError, match="^read the airport ids: FAILED: relation"):
        rows()
    assert failing.submitted == 1


def test_a_refused_wait_falls_back_to_polling(monkeypatch):
    # DescribeStatement's WaitTimeSeconds may be refused (ActiveWaitingRequestsExceededException: too many
    # waiting calls for the statement, Data API Reference): the wait goes on by polling.
    import boto3
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    monkeypatch.setattr(data_api, "time", SimpleNamespace(sleep=lambda seconds: None, monotonic=time.monotonic))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    client = job_session().client("redshift-data", region_name="us-east-1", aws_access_key_id="x",
                                  aws_secret_access_key="x")  # the job's model knows WaitTimeSeconds
    stub = Stubber(client)
    stub.add_client_error("describe_statement", "ActiveWaitingRequestsExceededException", "limit",
                          expected_params={"Id": "s1", "WaitTimeSeconds": 30})
    stub.add_response("describe_statement", {"Id": "s1", "Status": "STARTED"}, {"Id": "s1"})
    stub.add_response("describe_statement", {"Id": "s1", "Status": "FINISHED"}, {"Id": "s1"})
    with stub:
        assert data_api.wait_for_statement(client, "s1", 30, "q")["Status"] == "FINISHED"
    stub.assert_no_pending_responses()
    with Stubber(client) as other, pytest.raises(ClientError):  # any other error is the caller's
        other.add_client_error("describe_statement", "ValidationException", "Id is not a valid statement id")
        data_api.wait_for_statement(client, "s1", 30, "q")
