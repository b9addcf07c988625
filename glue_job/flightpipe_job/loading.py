"""The load: the manifest of staged days and the one transaction (sql/load_days.sql) that loads them."""

from __future__ import annotations

import argparse
import io
import re

import pyarrow as pa
import pyarrow.parquet as pq

from flightpipe_job import sql
from flightpipe_job.errors import JobFailed
from flightpipe_job.settings import ROLE_ARN, RUN_ID
from flightpipe_job.staging import StagedDay


def put_loads_manifest(s3, args: argparse.Namespace, staged: list[StagedDay]) -> str:
    """One Parquet file with a row per staged load: the counts travel to SQL as data, not as SQL text."""
    table = pa.table(
        {
            "load_id": pa.array([d.load_id for d in staged], pa.string()),
            "rows_read": pa.array([d.counts.rows_read for d in staged], pa.int64()),
            "rows_rejected": pa.array([d.counts.rows_rejected for d in staged], pa.int64()),
            "rows_filtered": pa.array([d.counts.rows_filtered for d in staged], pa.int64()),
            "rejects_location": pa.array([d.rejects_location for d in staged], pa.string()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    key = f"{args.staging_prefix}{args.run_id}/loads/loads.parquet"
    s3.put_object(Bucket=args.raw_bucket, Key=key, Body=buffer.getvalue())
    return key


# Values formatted into SQL text must look like these (they were validated by check_settings already).
SQL_VALUES = {
    "claims_path": re.compile(r"s3://[a-z0-9.-]+/[A-Za-z0-9_.=/-]+/"),
    "flights_path": re.compile(r"s3://[a-z0-9.-]+/[A-Za-z0-9_.=/-]+/"),
    "loads_path": re.compile(r"s3://[a-z0-9.-]+/[A-Za-z0-9_.=/-]+/"),
    "role_arn": ROLE_ARN,
    "run_id": RUN_ID,
}


def checked(key: str, value: str) -> str:
    """`value`, once it looks like SQL_VALUES[key]; JobFailed otherwise."""
    if not SQL_VALUES[key].fullmatch(value):
        raise JobFailed(f"refusing to format {key} {value!r} into SQL")
    return value


def fill_sql(name: str, **values: str) -> list[str]:
    """The statements of sql/<name> with its {placeholders} filled by validated values only."""
    values = {key: checked(key, value) for key, value in values.items()}
    return sql.split_statements(re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], sql.text(name)))


def load_batch(args: argparse.Namespace) -> list[str]:
    """The statements of sql/load_days.sql for this run's staged files."""
    root = f"s3://{args.raw_bucket}/{args.staging_prefix}{args.run_id}/"
    statements = fill_sql("load_days.sql", flights_path=root + "flights/", loads_path=root + "loads/",
                          role_arn=args.copy_role_arn)
    if args.fault == "fail_in_transaction":
        statements.append("SELECT CAST('fault injected: fail_in_transaction' AS INTEGER)")
    return [*statements, ledger_query(args)]


def ledger_query(args: argparse.Namespace) -> str:
    """sql/ledger_for_run.sql for this run, its id written in (a batch takes no parameters). The load batch
    ends with it, so the run's ledger rows come back as the batch's last result instead of costing a statement
    of their own (GetStatementResult's Id `<batch id>:<n>` names the batch's n-th statement: Data API
    Reference, GetStatementResult, request parameters)."""
    return sql.text("ledger_for_run.sql").replace(":job_run_id", f"'{checked('run_id', args.run_id)}'")
