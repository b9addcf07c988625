"""The job's Redshift Data API client: statements with a bounded wait, retried on a serializable conflict."""

from __future__ import annotations

import argparse
import math
import random
import re
import time
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError

from flightpipe_job.errors import DataApiError
from flightpipe_job.log import log

# Redshift fails one of two conflicting transactions with ERROR 1023 ("Serializable isolation violation");
# the failed one is rolled back whole, so it is retried (doc "Serializable isolation").
SERIALIZABLE_CONFLICT = re.compile(r"\b1023\b|serializable isolation violation", re.IGNORECASE)
CONFLICT_RETRIES = 5


class DataApiClient:
    """Redshift Data API calls with a bounded wait: execute (with :name parameters), query, batch."""

    def __init__(self, args: argparse.Namespace):
        self.client = boto3.client("redshift-data")  # from boto3's default session, the job's one session
        self.timeout = args.statement_timeout_seconds
        self.target: dict[str, str] = {"Database": args.redshift_database}
        if args.redshift_cluster_id:
            self.target["ClusterIdentifier"] = args.redshift_cluster_id
        else:
            self.target["WorkgroupName"] = args.redshift_workgroup
        if args.redshift_secret_arn:
            self.target["SecretArn"] = args.redshift_secret_arn
        elif args.redshift_db_user:
            self.target["DbUser"] = args.redshift_db_user

    def _retrying(self, submit: Callable[[], str], what: str) -> dict[str, Any]:
        """Submit and wait; a transaction that lost a serializable conflict (ERROR 1023) is submitted again
        after a growing, jittered pause (it was rolled back whole, so running it again is safe)."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                return wait_for_statement(self.client, submit(), self.timeout, what)
            except DataApiError as exc:
                if attempt == CONFLICT_RETRIES or not SERIALIZABLE_CONFLICT.search(str(exc)):
                    raise
                pause = min(0.2 * 2**attempt, 5.0) * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
                log(f"{what}: serializable conflict with another transaction, retrying in {pause:.1f}s")
                time.sleep(pause)
        raise AssertionError("unreachable")

    def _statement(self, sql: str, params: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Sql": sql, **self.target}
        if params:  # the Data API takes text values and rejects empty ones: the SQL casts them
            kwargs["Parameters"] = [{"name": k, "value": str(v)} for k, v in params.items()]
        return kwargs

    def execute(self, sql: str, what: str, **params: Any) -> dict[str, Any]:
        kwargs = self._statement(sql, params)
        return self._retrying(lambda: self.client.execute_statement(**kwargs)["Id"], what)

    def start_query(self, sql: str, what: str, **params: Any) -> Callable[[], list[dict[str, Any]]]:
        """Submit a query now and wait for it later: the warehouse runs it while the job does other work.
        The returned function waits for it (a lost serializable conflict is submitted again) and returns its
        rows; `query` is the two at once."""
        kwargs = self._statement(sql, params)
        submitted = [self.client.execute_statement(**kwargs)["Id"]]

        def rows() -> list[dict[str, Any]]:
            submit = lambda: submitted.pop() if submitted else self.client.execute_statement(**kwargs)["Id"]  # noqa: E731
            desc = self._retrying(submit, what)
            return self.rows(desc["Id"]) if desc.get("HasResultSet") else []

        return rows

    def rows(self, statement_id: str) -> list[dict[str, Any]]:
        """The result of a finished statement (or batch sub-statement `<id>:N`), every page."""
        names, records = statement_result(self.client, statement_id)
        return [dict(zip(names, record)) for record in records]

    def query(self, sql: str, what: str, **params: Any) -> list[dict[str, Any]]:
        return self.start_query(sql, what, **params)()

    def batch(self, sqls: list[str], what: str) -> dict[str, Any]:
        """All statements in one transaction: BatchExecuteStatement commits all or none."""
        return self._retrying(lambda: self.client.batch_execute_statement(Sqls=sqls, **self.target)["Id"], what)


def wait_for_statement(client, statement_id: str, timeout: float, what: str) -> dict[str, Any]:
    """DescribeStatement of a statement (or batch) once it is FINISHED; DataApiError, carrying the last
    description, once it FAILED or was ABORTED or after `timeout` seconds. The project's one Data API wait:
    flightpipe.warehouse waits with it too.

    A client whose model knows DescribeStatement's `WaitTimeSeconds` asks the Data API to answer once the
    statement has ended (at most 30 s a call: Data API Reference, "DescribeStatement"), one call where polling
    takes several. A client whose model lacks it polls: a first look after 5 ms, then backing off (Glue's
    botocore 1.25.5 with its own model; the job's session reads a newer one: session.py)."""
    deadline = time.monotonic() + timeout
    delay = 0.005  # most statements take milliseconds: look early, then back off to one look per 2 s
    waits = describe_waits(client)
    while True:
        if waits:
            try:
                seconds = max(1, min(30, math.ceil(deadline - time.monotonic())))
                desc = client.describe_statement(Id=statement_id, WaitTimeSeconds=seconds)
            except ClientError as exc:
                if not wait_refused(exc):
                    raise
                waits = False
                continue
        else:
            time.sleep(delay)
            desc = client.describe_statement(Id=statement_id)
            delay = min(delay * 1.25, 2.0)
        if desc["Status"] == "FINISHED":
            return desc
        if desc["Status"] in ("FAILED", "ABORTED"):
            raise DataApiError(f"{what}: {desc['Status']}: {desc.get('Error', 'no error text')}", desc)
        if time.monotonic() > deadline:
            raise DataApiError(f"{what}: statement {statement_id} not finished after {timeout:.0f}s", desc)


def wait_refused(exc: ClientError) -> bool:
    """The Data API would not wait: too many waiting calls on this statement, or no waiting here. Poll instead."""
    error = exc.response.get("Error", {})
    return error.get("Code") == "ActiveWaitingRequestsExceededException" or (
        error.get("Code") == "ValidationException" and "WaitTimeSeconds" in error.get("Message", ""))


def describe_waits(client) -> bool:
    """Whether the client can send DescribeStatement's WaitTimeSeconds (botocore refuses a parameter its
    model lacks)."""
    try:
        members = client.meta.service_model.operation_model("DescribeStatement").input_shape.members
    except AttributeError:  # not a boto3 client
        return False
    return "WaitTimeSeconds" in members


def statement_result(client, statement_id: str) -> tuple[list[str], list[list[Any]]]:
    """(column names, rows as value lists) of a finished statement, every page of GetStatementResult.
    The project's one reader of results: flightpipe.warehouse reads with it too."""
    names: list[str] = []
    records: list[list[Any]] = []
    token = None
    while True:
        page = client.get_statement_result(Id=statement_id, **({"NextToken": token} if token else {}))
        names = [c["name"] for c in page["ColumnMetadata"]]
        records += [[field_value(value) for value in record] for record in page["Records"]]
        token = page.get("NextToken")
        if not token:
            return names, records


def field_value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for kind in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if kind in field:
            return field[kind]
    return None
