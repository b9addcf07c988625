"""Data API statements a job run made: those ListStatements shows created while the run was running."""

from __future__ import annotations

import datetime as dt

import boto3


def created_between(started: dt.datetime, completed: dt.datetime) -> int:
    """How many Data API statements were created in [started, completed] (the bench runs one thing at a time,
    so during a job run these are the job's)."""
    client, count, token = boto3.client("redshift-data"), 0, None
    while True:
        page = client.list_statements(MaxResults=100, Status="ALL", **({"NextToken": token} if token else {}))
        count += sum(1 for s in page["Statements"] if started <= s["CreatedAt"] <= completed)
        token = page.get("NextToken")
        if not token:
            return count
