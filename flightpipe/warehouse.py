"""The Redshift Data API, the way notebooks, the CLI and tests use it.

The Data API runs SQL over HTTPS with IAM auth: no driver, no VPC access, no password in the client. The same
calls reach a real cluster/workgroup on `aws` and the embedded engine on `local`.

It is asynchronous: ExecuteStatement returns an id at once, DescribeStatement tells when the statement is done
and GetStatementResult pages its rows (Management Guide, "Using the Amazon Redshift Data API",
https://docs.aws.amazon.com/redshift/latest/mgmt/data-api.html; API Reference, "DescribeStatement",
https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_DescribeStatement.html). Every wait here is
the project's one DescribeStatement loop (`wait_for_statement`: each call asks the Data API, with
`WaitTimeSeconds`, to answer once the statement has ended; clients too old for that look after 5 ms, then back
off to one look per 2 s), not awswrangler's reader, whose waiter sleeps 0.25 s after a first look that a query
of milliseconds always misses. Statements submitted together run concurrently (up to 500 active per cluster or
workgroup: "Considerations when calling the Amazon Redshift Data API", same guide), so `queries` submits all
of them first and waits for them after.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import pandas as pd

from flightpipe_job.data_api import statement_result, wait_for_statement  # the project's one Data API wait and reader
from flightpipe_job.errors import DataApiError
from flightpipe_job.sql import split_statements  # the project's one statement splitter

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class StatementFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Warehouse:
    """Where SQL runs: a provisioned cluster (`cluster_id`) or a serverless `workgroup`, and a `database`,
    authenticated by a Secrets Manager secret (`secret_arn`) or temporary credentials for `db_user`."""

    database: str
    cluster_id: str | None = None
    workgroup: str | None = None
    secret_arn: str | None = None
    db_user: str | None = None
    timeout: float = 300.0

    def _target(self) -> dict[str, str]:
        target = {"Database": self.database}
        if self.cluster_id:
            target["ClusterIdentifier"] = self.cluster_id
        elif self.workgroup:
            target["WorkgroupName"] = self.workgroup
        else:
            raise ValueError("a warehouse needs a cluster_id or a workgroup")
        if self.secret_arn:
            target["SecretArn"] = self.secret_arn
        elif self.db_user:
            target["DbUser"] = self.db_user
        return target

    @cached_property
    def client(self):
        """One Data API client per warehouse: building one costs tens of milliseconds, polls are many."""
        return boto3.client("redshift-data")

    def _wait(self, statement_id: str) -> dict[str, Any]:
        try:
            return wait_for_statement(self.client, statement_id, self.timeout, "statement")
        except DataApiError as exc:
            desc = exc.desc
            if desc.get("Status") not in ("FAILED", "ABORTED"):
                raise TimeoutError(str(exc)) from None
            failed = f"{desc['Status']}: {desc.get('Error', '')} -- SQL: {_failed_sql(desc)[:300]}"
            raise StatementFailed(failed) from None

    def _submit(self, sql: str, parameters: dict[str, Any] | None = None) -> str:
        """ExecuteStatement (with `:name` parameters, sent as text: the SQL casts them); the statement's id."""
        kwargs: dict[str, Any] = {"Sql": sql, **self._target()}
        if parameters:
            kwargs["Parameters"] = [{"name": k, "value": str(v)} for k, v in parameters.items()]
        return self.client.execute_statement(**kwargs)["Id"]

    def run(self, sql: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one statement (with `:name` parameters) and wait for it; return DescribeStatement."""
        return self._wait(self._submit(sql, parameters))

    def run_batch(self, sqls: list[str]) -> dict[str, Any]:
        """Run statements as ONE transaction (BatchExecuteStatement): all of them or none."""
        return self._wait(self.client.batch_execute_statement(Sqls=sqls, **self._target())["Id"])

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a SELECT and return its rows as a DataFrame."""
        return self.queries([(sql, parameters)])[0]

    def queries(self, statements: list[tuple[str, dict[str, Any] | None]]) -> list[pd.DataFrame]:
        """Run independent SELECTs (each with its own `:name` parameters) side by side: every one is submitted
        before the first is waited for, so they take about as long as the slowest, not the sum. Each is its own
        statement (not a BatchExecuteStatement, which takes no parameters)."""
        ids = [self._submit(sql, parameters) for sql, parameters in statements]
        return [self._rows(self._wait(statement_id)) for statement_id in ids]

    def _rows(self, desc: dict[str, Any]) -> pd.DataFrame:
        """The result of a finished statement as a DataFrame, every page (columns named as the SELECT names
        them; a statement without a result set gives an empty frame)."""
        if not desc.get("HasResultSet"):
            return pd.DataFrame()
        columns, rows = statement_result(self.client, desc["Id"])
        return pd.DataFrame(rows, columns=columns)

    def run_file(self, name: str, **substitutions: str) -> dict[str, Any]:
        """Run every statement of `sql/<name>` as one batch, after filling `{placeholders}` (identifiers,
        S3 paths, role ARNs: values COPY cannot take as parameters)."""
        return self.run_batch(split_statements(render_sql(name, **substitutions)))


def render_sql(name: str, **substitutions: str) -> str:
    text = (SQL_DIR / name).read_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - substitutions.keys())
    if missing:
        raise KeyError(f"sql/{name} needs values for {missing}")
    return _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], text)


def _failed_sql(desc: dict[str, Any]) -> str:
    """The SQL that failed: a batch has no QueryString of its own, its failing sub-statement has."""
    failed = [sub for sub in desc.get("SubStatements", []) if sub.get("Status") in ("FAILED", "ABORTED")]
    return (failed[0] if failed else desc).get("QueryString", "")
