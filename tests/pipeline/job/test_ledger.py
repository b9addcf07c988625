"""The ledger's view of other runs' claims: abandoned only when their Glue job run has ended.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from flightpipe_job.ledger import claim_is_abandoned


class FakeGlue:
    """GetJobRuns of a job with one run that carried the identity `jr_other` (None: Glue knows no such run)."""

    def __init__(self, state: str | None):
        self.state = state

    def get_paginator(self, name):
        assert name == "get_job_runs"
        return self

    def paginate(self, JobName):  # noqa: N803 - boto3's names
        if self.state == "job deleted":
            raise ClientError({"Error": {"Code": "EntityNotFoundException", "Message": "no"}}, "GetJobRuns")
        other = {"Id": "jr_0123", "JobRunState": "SUCCEEDED", "Arguments": {"--run_id": "exec-earlier"}}
        runs = [other] + ([{"Id": "jr_4567", "JobRunState": self.state, "Arguments": {"--run_id": "jr_other"}}]
                          if self.state else [])  # found on the second page
        return [{"JobRuns": runs[:1]}, {"JobRuns": runs[1:]}]


@pytest.mark.parametrize(
    "state, age, abandoned",
    [("RUNNING", 10**6, False), ("STARTING", 0, False), ("FAILED", 0, True), ("TIMEOUT", 0, True),
     ("STOPPED", 0, True), ("ERROR", 0, True), (None, 5, False), (None, 3000, True), ("job deleted", 5, False),
     ("job deleted", 3000, True)],
)
def test_a_claim_is_abandoned_only_when_its_run_has_ended(state, age, abandoned):
    args = SimpleNamespace(run_id="jr_me", claim_timeout_minutes=2880)
    owner = {"job_run_id": "jr_other", "job_name": "daily_flights_etl", "age_minutes": age}
    assert bool(claim_is_abandoned(FakeGlue(state), owner, args)) is abandoned
