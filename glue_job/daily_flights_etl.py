"""Daily flights ETL (AWS Glue Python shell job, Python 3.9): new `flights.csv` files in S3 → Redshift.

Each day's file lands at `s3://<raw_bucket>/<raw_prefix>date=YYYY-MM-DD/flights.csv` with the header
`Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay` (any column order). The job:

1. finds the work: the `--object_key` it was started for, plus the days the Glue crawler catalogued
   (`glue.get_partitions`) that the ledger has not settled (one query), and each such day's *current* object
   version (`head_object`: VersionId, or the ETag when the bucket is not versioned). Days already loaded cost
   nothing: a daily run makes the same few Data API statements after a year as after a day;
2. claims all those versions in ONE BatchExecuteStatement (the candidates staged as a Parquet file, then
   LOCK and INSERT … WHERE NOT EXISTS; the ledger `airlines.load_ledger` is the job's bookmark: a second or
   concurrent run finds nothing to do twice). A RUNNING claim whose Glue job run has ended is abandoned:
   marked FAILED and taken over;
3. streams each claimed version (at its VersionId, one GET) in bounded chunks with pyarrow, validates every
   row (each check once per distinct text of a field, through pyarrow's dictionary encoding) and
   writes the bad ones with a reason to `s3://<raw_bucket>/<rejects_prefix>date=…/<run_id>.csv`; a file
   that is unusable as a whole (empty, header only, wrong columns, not UTF-8 CSV, a quote left open on a
   line with `--multiline_quotes refuse`, more rejected rows than `--max_reject_share` of its data lines)
   fails with a message naming the object, and 0 fact rows change for that day. The ledger's rows_read is
   the file's own line count (physical lines minus the header), so every line is loaded, rejected or
   filtered; a line longer than the read block is rejected with its number;
4. stages the valid rows at or above the threshold as Parquet (the rows of many days share a file) under
   `s3://<raw_bucket>/<staging_prefix><run_id>/` and loads all
   claimed days in ONE BatchExecuteStatement (one transaction): COPY into temp tables, delete the days,
   insert them joined to `airlines.airports_dim` on both airports with `dep_delay >= min_dep_delay`, and
   mark the ledger rows LOADED with their counts. A crash anywhere leaves the previous state.

Threshold: the reference course code kept `dep_delay > 60` while its README said "60 minutes or more";
this job keeps `dep_delay >= --min_dep_delay` (default 60), as the README describes.

The run's identity `--run_id` (the ledger's job_run_id, the staging folder, the rejects file name) is given by
the state machine (its execution name): Glue passes a Python shell job no JOB_RUN_ID. Started by hand, a run
calls itself `manual_<uuid>`.

Raw files are never modified or deleted; staging files are deleted after each run.
The SQL is the project's `sql/` folder, read at run time from the `flightpipe_job` wheel that the job definition
passes with `--extra-py-files`.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import io
import json
import os
import random
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any, Callable

import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from flightpipe_job import sql

COLUMNS = ("Carrier", "OriginAirportID", "DestAirportID", "DepDelay", "ArrDelay")
# Delays outside these bounds (minutes) are data errors, not flights: a day early or two days late.
DELAY_MIN, DELAY_MAX = -1440, 2880
HEADER_PEEK_BYTES = 64 * 1024
CSV_BLOCK_BYTES = 8 * 1024 * 1024  # rows are parsed, validated and staged one block at a time
# A Glue job run in one of these states will never finish its claim.
ENDED_RUN_STATES = {"FAILED", "TIMEOUT", "STOPPED", "ERROR", "SUCCEEDED"}
FAULTS = ("none", "fail_in_transaction", "exit_before_load")
MULTILINE_QUOTES = ("refuse", "reject")

# Values formatted into SQL text (COPY takes no bind parameters) must match these first.
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
S3_PREFIX = re.compile(r"([A-Za-z0-9_.=-]+/)+")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
# Redshift fails one of two conflicting transactions with ERROR 1023 ("Serializable isolation violation");
# the failed one is rolled back whole, so it is retried (doc "Serializable isolation").
SERIALIZABLE_CONFLICT = re.compile(r"\b1023\b|serializable isolation violation", re.IGNORECASE)
CONFLICT_RETRIES = 5

class JobFailed(Exception):
    """The run fails; the message (one line) names the object(s) and the problem."""


class BadFile(Exception):
    """The object is unusable as a whole; the day is not loaded. The message names the object."""


class StatementFailed(Exception):
    pass


def pandas_version() -> tuple[int, int]:
    major, minor = pd.__version__.split(".")[:2]
    return int(major), int(minor)


def log(message: str) -> None:
    print(message, flush=True)


# ---- arguments -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load new daily flights files into Redshift.", allow_abbrev=False)
    add = parser.add_argument
    add("--job_name", default="daily_flights_etl", help="the Glue job's name (Glue passes a Python shell job none)")
    add("--run_id", default="", help="this run's identity (the state machine passes its execution name)")
    add("--raw_bucket", required=True)
    add("--raw_prefix", default="raw/flights/")
    add("--catalog_database", required=True)
    add("--catalog_table", required=True)
    add("--object_key", default="", help="the key from the event; its day is always considered")
    add("--min_dep_delay", type=int, default=60, help="keep flights with dep_delay >= this (minutes)")
    add("--redshift_cluster_id", default="")
    add("--redshift_workgroup", default="")
    add("--redshift_database", default="dev")
    add("--redshift_secret_arn", default="")
    add("--redshift_db_user", default="")
    add("--copy_role_arn", required=True, help="the IAM role Redshift assumes to read the staged files")
    add("--staging_prefix", default="staging/flights/")
    add("--rejects_prefix", default="rejects/flights/")
    add("--claim_timeout_minutes", type=int, default=2880,
        help="a RUNNING claim of a run unknown to Glue is abandoned after this (Glue's default job timeout)")
    add("--statement_timeout_seconds", type=float, default=900.0)
    add("--multiline_quotes", choices=MULTILINE_QUOTES, default="refuse",
        help="a line with an unterminated quote (\") would run into the next lines: refuse the day (default), "
             "or reject that line with its number and load the rest")
    add("--max_reject_share", type=float, default=0.05,
        help="refuse a day whose rejected rows exceed this share of its data lines (0..1, default 0.05)")
    add("--fault", choices=FAULTS, default="none", help="test-only fault injection")
    # Glue adds its own arguments (--job-bookmark-option, --scriptLocation, ...): ignore them.
    args, _glue_arguments = parser.parse_known_args(argv)
    args.run_id = args.run_id or f"manual_{uuid.uuid4().hex}"
    for name in ("raw_prefix", "staging_prefix", "rejects_prefix"):
        value = getattr(args, name)
        setattr(args, name, value.strip("/") + "/" if value.strip("/") else "")
    return args


def check_settings(args: argparse.Namespace, region: str) -> None:
    """Fail fast, naming the setting, on anything that would end up in SQL text or overlap the raw data."""
    checks = [
        ("--raw_bucket", args.raw_bucket, S3_BUCKET),
        ("--raw_prefix", args.raw_prefix, S3_PREFIX),
        ("--staging_prefix", args.staging_prefix, S3_PREFIX),
        ("--rejects_prefix", args.rejects_prefix, S3_PREFIX),
        ("--copy_role_arn", args.copy_role_arn, ROLE_ARN),
        ("--run_id", args.run_id, RUN_ID),
        ("region", region, REGION),
    ]
    for name, value, pattern in checks:
        if not pattern.fullmatch(value or ""):
            raise JobFailed(f"setting {name}={value!r} does not match {pattern.pattern}")
    for name in ("staging_prefix", "rejects_prefix"):
        a, b = getattr(args, name), args.raw_prefix
        if a.startswith(b) or b.startswith(a):
            raise JobFailed(f"--{name} {a!r} overlaps --raw_prefix {b!r}: the crawler would catalogue it")
    if not (args.redshift_cluster_id or args.redshift_workgroup):
        raise JobFailed("set --redshift_cluster_id or --redshift_workgroup")
    if not 0 <= args.max_reject_share <= 1:
        raise JobFailed(f"setting --max_reject_share={args.max_reject_share} must be between 0 and 1")


def day_of_key(key: str, raw_prefix: str) -> dt.date:
    """The day of a daily file key `<raw_prefix>date=YYYY-MM-DD/flights.csv`; JobFailed for anything else."""
    match = re.fullmatch(re.escape(raw_prefix) + r"date=(\d{4}-\d{2}-\d{2})/flights\.csv", key)
    try:
        if match:
            return dt.date.fromisoformat(match.group(1))
    except ValueError:
        pass
    raise JobFailed(f"object key {key!r} is not a daily flights file {raw_prefix}date=YYYY-MM-DD/flights.csv")


# ---- Redshift Data API -----------------------------------------------------------------------------------


class Warehouse:
    """Redshift Data API calls with a bounded wait: execute (with :name parameters), query, batch."""

    def __init__(self, args: argparse.Namespace):
        self.client = boto3.client("redshift-data")
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

    def _wait(self, statement_id: str, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        delay = 0.005  # most statements take milliseconds: look early, then back off to one look per 2 s
        while True:
            time.sleep(delay)
            desc = self.client.describe_statement(Id=statement_id)
            if desc["Status"] == "FINISHED":
                return desc
            if desc["Status"] in ("FAILED", "ABORTED"):
                raise StatementFailed(f"{what}: {desc['Status']}: {desc.get('Error', 'no error text')}")
            if time.monotonic() > deadline:
                raise StatementFailed(f"{what}: statement {statement_id} not finished after {self.timeout:.0f}s")
            delay = min(delay * 1.25, 2.0)

    def _retrying(self, submit: Callable[[], str], what: str) -> dict[str, Any]:
        """Submit and wait; a transaction that lost a serializable conflict (ERROR 1023) is submitted again
        after a growing, jittered pause (it was rolled back whole, so running it again is safe)."""
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                return self._wait(submit(), what)
            except StatementFailed as exc:
                if attempt == CONFLICT_RETRIES or not SERIALIZABLE_CONFLICT.search(str(exc)):
                    raise
                pause = min(0.2 * 2**attempt, 5.0) * (0.5 + random.random())  # noqa: S311 - jitter, not crypto
                log(f"{what}: serializable conflict with another transaction, retrying in {pause:.1f}s")
                time.sleep(pause)
        raise AssertionError("unreachable")

    def execute(self, sql: str, what: str, **params: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Sql": sql, **self.target}
        if params:  # the Data API takes text values and rejects empty ones: the SQL casts them
            kwargs["Parameters"] = [{"name": k, "value": str(v)} for k, v in params.items()]
        return self._retrying(lambda: self.client.execute_statement(**kwargs)["Id"], what)

    def rows(self, statement_id: str) -> list[dict[str, Any]]:
        """The result of a finished statement (or batch sub-statement `<id>:N`), every page."""
        rows: list[dict[str, Any]] = []
        token = None
        while True:
            page = self.client.get_statement_result(Id=statement_id, **({"NextToken": token} if token else {}))
            names = [c["name"] for c in page["ColumnMetadata"]]
            rows += [dict(zip(names, map(field_value, record))) for record in page["Records"]]
            token = page.get("NextToken")
            if not token:
                return rows

    def query(self, sql: str, what: str, **params: Any) -> list[dict[str, Any]]:
        desc = self.execute(sql, what, **params)
        return self.rows(desc["Id"]) if desc.get("HasResultSet") else []

    def batch(self, sqls: list[str], what: str) -> dict[str, Any]:
        """All statements in one transaction: BatchExecuteStatement commits all or none."""
        return self._retrying(lambda: self.client.batch_execute_statement(Sqls=sqls, **self.target)["Id"], what)


def field_value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    for kind in ("stringValue", "longValue", "doubleValue", "booleanValue", "blobValue"):
        if kind in field:
            return field[kind]
    return None


# ---- finding the work ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SourceObject:
    bucket: str
    key: str
    day: dt.date
    version_id: str | None  # None when the bucket is not versioned
    etag: str
    last_modified: dt.datetime
    size: int

    @property
    def version(self) -> str:
        """The ledger's name for these bytes: the VersionId, else the ETag."""
        return self.version_id or f"etag:{self.etag}"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" + (f"?versionId={self.version_id}" if self.version_id else "")

    def get_kwargs(self) -> dict[str, str]:
        """get_object arguments that read exactly these bytes, even if a newer upload lands meanwhile."""
        kwargs = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            kwargs["VersionId"] = self.version_id
        else:
            kwargs["IfMatch"] = f'"{self.etag}"'
        return kwargs


def catalogued_keys(glue, args: argparse.Namespace) -> list[str]:
    """The daily file of every partition the crawler catalogued under s3://raw_bucket/raw_prefix."""
    root = f"s3://{args.raw_bucket}/{args.raw_prefix}"
    keys = []
    try:
        pages = glue.get_paginator("get_partitions").paginate(
            DatabaseName=args.catalog_database, TableName=args.catalog_table
        )
        for page in pages:
            for partition in page["Partitions"]:
                location = partition.get("StorageDescriptor", {}).get("Location", "").rstrip("/")
                if location.startswith(root):
                    keys.append(location[len("s3://" + args.raw_bucket + "/"):] + "/flights.csv")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityNotFoundException":
            raise
        log(f"catalog table {args.catalog_database}.{args.catalog_table} not found: has the crawler run?")
    return keys


def candidate_keys(db: Warehouse, glue, args: argparse.Namespace) -> list[str]:
    """The daily files this run considers: --object_key, and every catalogued day the ledger has not settled."""
    catalogued = catalogued_keys(glue, args)
    settled = {row["source_key"] for row in db.query(
        sql.text("ledger_settled_keys.sql"), "read the settled days", bucket=args.raw_bucket)}
    keys = {key for key in catalogued if key not in settled}
    if args.object_key:
        keys.add(args.object_key)
    log(f"{len(catalogued)} catalogued day(s) under s3://{args.raw_bucket}/{args.raw_prefix}, "
        f"{len(settled.intersection(catalogued))} of them settled; {len(keys)} to consider")
    return sorted(keys)


def current_objects(s3, keys: list[str], args: argparse.Namespace) -> list[SourceObject]:
    """The current version of each daily file of `keys`, oldest day first."""
    found = []
    for key in keys:
        try:
            day = day_of_key(key, args.raw_prefix)
        except JobFailed as exc:
            if key == args.object_key:
                raise
            log(f"ignored: {exc}")
            continue
        try:
            head = s3.head_object(Bucket=args.raw_bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                log(f"ignored: s3://{args.raw_bucket}/{key} has no current version (deleted)")
                continue
            raise
        version_id = head.get("VersionId")
        found.append(
            SourceObject(
                bucket=args.raw_bucket, key=key, day=day,
                version_id=version_id if version_id and version_id != "null" else None,
                etag=head["ETag"].strip('"'), last_modified=head["LastModified"], size=head["ContentLength"],
            )
        )
    return sorted(found, key=lambda o: o.day)


def older_versions(s3, obj: SourceObject) -> list[SourceObject]:
    """The versions of obj's key stored before obj, newest first: in a burst of uploads a run finds a newer
    version current, and these get their own ledger row (SUPERSEDED) instead of none. S3 lists a key's
    versions most recently stored first ("Retrieving object versions", Amazon S3 user guide)."""
    if not obj.version_id:
        return []
    older, seen = [], False
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=obj.bucket, Prefix=obj.key)
    for page in pages:
        for version in page.get("Versions", []):
            if version["Key"] != obj.key:
                continue
            if seen:
                older.append(dataclasses.replace(
                    obj, version_id=version["VersionId"], etag=version["ETag"].strip('"'),
                    last_modified=version["LastModified"], size=version["Size"]))
            seen = seen or version["VersionId"] == obj.version_id
    return older


# ---- claiming --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Claim:
    obj: SourceObject
    load_id: str | None  # None: not ours to load
    note: str = ""  # why not, when load_id is None
    failed_before: bool = False  # the version already FAILED for good


CLAIM_ROUNDS = 3  # a round takes over abandoned claims; the next claims their versions again


def claim_all(db: Warehouse, s3, glue, objects: list[SourceObject], args: argparse.Namespace,
              superseded: list[tuple[SourceObject, str]] = ()) -> list[Claim]:
    """Claim every version of `objects` in one transaction; take over claims whose run has ended. The
    `superseded` versions (with why) get a SUPERSEDED row in the same transaction if no run recorded them."""
    decided: dict[str, Claim] = {}
    pending = list(objects)
    for round_number in range(CLAIM_ROUNDS):
        if not pending:
            break
        load_ids = {obj.key: uuid.uuid4().hex for obj in pending}
        rows = claim_batch(db, s3, args, pending, load_ids, round_number,
                           list(superseded) if round_number == 0 else [])
        retry = []
        for obj in pending:
            mine = load_ids[obj.key]
            got = decide(db, glue, obj, mine, [r for r in rows if (r["source_key"], r["source_version"]) ==
                                                 (obj.key, obj.version)], args)
            if got is None:
                retry.append(obj)
            else:
                decided[obj.key] = got
        pending = retry
    for obj in pending:
        decided[obj.key] = Claim(obj, None, f"could not claim after {CLAIM_ROUNDS} attempts")
    return [decided[obj.key] for obj in objects]


def claim_batch(db: Warehouse, s3, args: argparse.Namespace, objects: list[SourceObject],
                load_ids: dict[str, str], round_number: int,
                superseded: list[tuple[SourceObject, str]] = ()) -> list[dict[str, Any]]:
    """Stage the candidates as Parquet and run sql/ledger_claim.sql; the ledger rows of every candidate
    claimed RUNNING."""
    rows = [(o, load_ids[o.key], "RUNNING", None) for o in objects]
    rows += [(o, uuid.uuid4().hex, "SUPERSEDED", why) for o, why in superseded]
    table = pa.table({
        "load_id": pa.array([r[1] for r in rows], pa.string()),
        "flight_date": pa.array([r[0].day for r in rows], pa.date32()),
        "source_bucket": pa.array([r[0].bucket for r in rows], pa.string()),
        "source_key": pa.array([r[0].key for r in rows], pa.string()),
        "source_version": pa.array([r[0].version for r in rows], pa.string()),
        "source_last_modified": pa.array([r[0].last_modified.replace(tzinfo=None) for r in rows],
                                         pa.timestamp("us")),
        "min_dep_delay": pa.array([args.min_dep_delay] * len(rows), pa.int32()),
        "job_name": pa.array([args.job_name] * len(rows), pa.string()),
        "job_run_id": pa.array([args.run_id] * len(rows), pa.string()),
        "status": pa.array([r[2] for r in rows], pa.string()),
        "error": pa.array([r[3] for r in rows], pa.string()),
    })
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    prefix = f"{args.staging_prefix}{args.run_id}/claims/round-{round_number}/"
    s3.put_object(Bucket=args.raw_bucket, Key=prefix + "claims.parquet", Body=buffer.getvalue())
    statements = fill_sql("ledger_claim.sql", claims_path=f"s3://{args.raw_bucket}/{prefix}",
                          role_arn=args.copy_role_arn)
    try:
        done = db.batch(statements, f"claim {len(objects)} object version(s)")
    finally:
        delete_keys(s3, args.raw_bucket, [prefix + "claims.parquet"])
    return db.rows(f"{done['Id']}:{len(statements)}")


def decide(db: Warehouse, glue, obj: SourceObject, load_id: str, rows: list[dict[str, Any]],
           args: argparse.Namespace) -> Claim | None:
    """What the ledger rows of one version mean for this run; None: an abandoned claim was taken over, claim
    the version again."""
    loaded = [r for r in rows if r["status"] in ("LOADED", "SUPERSEDED")]
    running = [r for r in rows if r["status"] == "RUNNING"]
    mine = [r for r in running if r["load_id"] == load_id]
    if loaded:
        done = f"version {obj.version} is {loaded[0]['status']} (job run {loaded[0]['job_run_id']})"
        if mine:
            finish(db, load_id, "SKIPPED", False, done)
        return Claim(obj, None, done)
    if running and running[0]["load_id"] == load_id:
        return Claim(obj, load_id)
    if mine:  # two runs raced; the earliest claim wins and ours steps aside
        finish(db, load_id, "SKIPPED", False, f"claim lost to load {running[0]['load_id']}")
    if not running:
        failed = [r for r in rows if r["status"] == "FAILED"]
        if failed:
            return Claim(obj, None, f"failed before: {failed[-1]['error']}", failed_before=True)
        return Claim(obj, None, f"settled earlier ({rows[-1]['status'] if rows else 'no ledger row'})")
    owner = running[0]
    dead = claim_is_abandoned(glue, owner, args)
    if not dead:
        return Claim(obj, None, f"version {obj.version} is being loaded by job run {owner['job_run_id']}")
    log(f"{obj.uri}: taking over the claim of job run {owner['job_run_id']} ({dead})")
    finish(db, owner["load_id"], "FAILED", True, f"abandoned: {dead}; taken over by job run {args.run_id}")
    return None


def glue_run_state(glue, job_name: str, run_id: str) -> str | None:
    """The state of the Glue run of `job_name` that carried the identity `run_id` (its --run_id argument,
    or its own id), or None when Glue knows no such run."""
    try:
        for page in glue.get_paginator("get_job_runs").paginate(JobName=job_name):
            for run in page["JobRuns"]:
                if run_id in (run.get("Id"), (run.get("Arguments") or {}).get("--run_id")):
                    return run["JobRunState"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityNotFoundException":
            raise
    return None


def claim_is_abandoned(glue, owner: dict[str, Any], args: argparse.Namespace) -> str:
    """Why the RUNNING claim `owner` will never finish, or '' if it may still."""
    if owner["job_run_id"] == args.run_id:
        return ""
    state = glue_run_state(glue, owner["job_name"], owner["job_run_id"])
    if state is not None:
        return f"job run {owner['job_run_id']} is {state}" if state in ENDED_RUN_STATES else ""
    # Not a Glue run (started by hand): abandoned once older than any run may last.
    age = owner.get("age_minutes") or 0
    if age >= args.claim_timeout_minutes:
        return f"run {owner['job_run_id']} is unknown to Glue and its claim is {age} minutes old"
    return ""


def newer_version(s3, obj: SourceObject) -> str | None:
    """The key's current version if it is no longer `obj` (a newer upload landed while this run read it)."""
    if not obj.version_id:
        return None
    try:
        current = s3.head_object(Bucket=obj.bucket, Key=obj.key).get("VersionId")
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None  # deleted since: the version read is still the last one uploaded
        raise
    return current if current and current != obj.version_id else None


def finish(db: Warehouse, load_id: str, status: str, retryable: bool, error: str) -> None:
    db.execute(
        sql.text("ledger_finish.sql"), f"mark load {load_id} {status}", load_id=load_id, status=status,
        retryable=str(retryable).lower(), error=(error or status)[:2000],
    )


# ---- reading and validating one file ---------------------------------------------------------------------


def column_order(head: bytes, uri: str) -> list[int]:
    """Position in the file of each of COLUMNS, from the first bytes of the file; BadFile if unusable.
    The header must hold exactly the five names, in any order, case and surrounding spaces ignored."""
    if not head:
        raise BadFile(f"{uri}: the file is empty (0 bytes)")
    head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    end = head.find(b"\n")
    if end < 0 and b"\r" in head:
        # CR-only line endings (classic Mac OS): the warehouse's loader (COPY) and this job's line numbers end
        # a row at a line feed, so the file is refused whole, saying how to fix it.
        raise BadFile(f"{uri}: its lines end with a carriage return only (CR): save it with LF or CRLF line "
                      "endings and upload it again")
    if end < 0 and len(head) >= HEADER_PEEK_BYTES:
        raise BadFile(f"{uri}: not a CSV file: no line break in the first {HEADER_PEEK_BYTES} bytes")
    line = head[: end if end >= 0 else len(head)].rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise BadFile(f"{uri}: not a CSV file: the header line is not UTF-8 text") from None
    if "\x00" in text:
        raise BadFile(f"{uri}: not a CSV file: the header line holds NUL bytes")
    names = [n.strip().strip('"').strip().lower() for n in next(csv.reader([text]), [])]
    wanted = [c.lower() for c in COLUMNS]
    missing = [c for c, w in zip(COLUMNS, wanted) if w not in names]
    unexpected = [n for n in names if n not in wanted]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if missing or unexpected or repeated:
        parts = [f"missing {missing}" if missing else "", f"unexpected {unexpected}" if unexpected else "",
                 f"repeated {repeated}" if repeated else ""]
        raise BadFile(
            f"{uri}: the header must be exactly {','.join(COLUMNS)} (any order): "
            + "; ".join(p for p in parts if p) + f" (header was {text[:200]!r})"
        )
    return [names.index(w) for w in wanted]


# What the reader gets in place of a line that is too long: one field, so pyarrow reports it as malformed.
LONG_LINE = b"-\n"


class LineCounter(io.RawIOBase):
    """Passes a file's bytes on to the CSV reader while counting the file's own physical lines: each `\\n`
    ends a line (a `\\r` before it is part of the line ending) and bytes after the last `\\n` are one more
    line; so a file ending in `\\n` has no empty last line, and every other empty line counts.

    pyarrow parses a line only within one read block, so a line longer than `max_line` bytes would fail the
    whole file: such a line is passed on as LONG_LINE instead, and its number and first bytes are kept
    in `long_lines`, to be rejected. The file is read once, `max_line` bytes at a time."""

    def __init__(self, raw, max_line: int):
        self.raw, self.max_line = raw, max_line
        self.complete = 0  # lines ended by a `\n` so far
        self.lines = 0  # the file's physical lines, known once the reader reached its end
        self.pending = b""  # bytes after the last `\n`, not passed on yet
        self.dropping = False  # inside a line that is too long
        self.long_lines: dict[int, bytes] = {}
        self.out, self.out_pos = b"", 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self.out_pos >= len(self.out) and not self.eof:
            self.out, self.out_pos = self._next_lines(), 0
        n = min(len(buffer), len(self.out) - self.out_pos)
        buffer[:n] = self.out[self.out_pos:self.out_pos + n]
        self.out_pos += n
        return n

    def _next_lines(self) -> bytes:
        """The next whole lines read from the file (everything left at its end)."""
        chunk = self.raw.read(self.max_line)
        if not chunk:
            self.eof = True
            self.lines = self.complete + (1 if self.pending or self.dropping else 0)
            out = LONG_LINE if self.dropping else self.pending
            self.pending, self.dropping = b"", False
            return out
        parts = []
        if self.dropping:
            end = chunk.find(b"\n")
            if end < 0:
                return b""
            parts.append(LONG_LINE)
            self.complete += 1
            chunk, self.dropping = chunk[end + 1:], False
        data = self.pending + chunk
        first = data.find(b"\n")
        if (first if first >= 0 else len(data)) > self.max_line:  # only the first line can be this long
            self.long_lines[self.complete + 1] = data[:200]
            if first >= 0:
                parts.append(LONG_LINE)
                self.complete += 1
                data = data[first + 1:]
            else:
                data, self.dropping = b"", True
        end = data.rfind(b"\n") + 1
        parts.append(data[:end])
        self.complete += data.count(b"\n", 0, end)
        self.pending = data[end:]
        return b"".join(parts)


class RecordNumbers:
    """Line numbers (header = 1) of the rows pyarrow yields. Quotes are not interpreted by pyarrow, so each
    line is one row; pyarrow skips malformed rows after telling the handler their number, so the yielded
    rows are the lines not skipped, in order."""

    def __init__(self) -> None:
        self.skipped: list[int] = []
        self.next_number = 2

    def take(self, n: int) -> np.ndarray:
        start = self.next_number
        skipped = np.asarray([s for s in self.skipped if s >= start], dtype=np.int64)
        end = start + n
        while True:
            extra = int(((skipped >= start) & (skipped < end)).sum())
            if end == start + n + extra:
                break
            end = start + n + extra
        if end == start + n:  # nothing skipped in this block (the usual case): no set difference to take
            numbers = np.arange(start, end, dtype=np.int64)
        else:
            numbers = np.setdiff1d(np.arange(start, end, dtype=np.int64), skipped, assume_unique=True)
        self.skipped = [s for s in self.skipped if s >= end]
        self.next_number = end
        return numbers


@dataclasses.dataclass
class Counts:
    rows_read: int = 0  # data lines: the file's physical lines minus the header
    rows_rejected: int = 0
    rows_valid: int = 0
    rows_filtered: int = 0  # not loaded, not an error: valid with dep_delay < threshold or empty, or blank
    rows_blank: int = 0  # empty or whitespace-only lines (counted in rows_filtered too)


# Fields are read dictionary-encoded: a day has few distinct carriers, airports and delays, so every check
# runs once per distinct text and reaches the rows through the dictionary's indices.
FIELD_TYPE = pa.dictionary(pa.int32(), pa.string())


def read_csv_blocks(
    stream, order: list[int], on_malformed: Callable[[int, str, int], None]
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Stream a daily file as tables of the five columns (all text, dictionary-encoded, file order fixed)
    with their line numbers. The header row is skipped (already checked by column_order).

    pyarrow reads with quoting off (`quote_char=False`, pyarrow.csv.ParseOptions): with quoting on, a quote
    that is never closed makes the rest of the block one field, whatever `newlines_in_values` says (pyarrow
    7.0.0, measured; Redshift's COPY ... CSV likewise lets a quoted field hold line breaks, "Data format
    parameters"). No field of a daily file can hold a line break, so each line is one row: quotes stay in
    the text, validate_block unquotes fields and finds unbalanced quotes, and scan_file splits the few lines
    whose quoted fields hold commas with Python's csv module."""
    numbers = RecordNumbers()

    def malformed(row) -> str:
        numbers.skipped.append(row.number)
        on_malformed(row.number, row.text, row.actual_columns)
        return "skip"

    raw_names = [f"field{i}" for i in range(len(COLUMNS))]
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            column_names=raw_names, skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            quote_char=False, newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=malformed
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: FIELD_TYPE for n in raw_names}, strings_can_be_null=False,
        ),
    )
    for batch in reader:
        table = pa.Table.from_batches([batch]).select([raw_names[i] for i in order]).rename_columns(list(COLUMNS))
        yield table, numbers.take(batch.num_rows)


FLIGHTS_STAGE_SCHEMA = pa.schema(
    [
        ("flight_date", pa.date32()),
        ("load_id", pa.string()),
        ("source_line", pa.int32()),
        ("carrier", pa.string()),
        ("origin_airport_id", pa.int64()),
        ("dest_airport_id", pa.int64()),
        ("dep_delay", pa.int64()),
        ("arr_delay", pa.int64()),
    ]
)
REJECT_COLUMNS = ["source_line", "reason", *COLUMNS, "raw_record"]

# Problem bits of one field; EMPTY marks an empty (or whitespace-only) field, which is not a problem itself.
EMPTY = 0x80
CARRIER_RULE = (r"^[A-Za-z0-9]{2,3}$", "Carrier must be 2-3 letters or digits: '{}'")
AIRPORT_ID_RULES = (
    (0x01, "{column} is not an integer id: '{{}}'"),
    (0x02, "{column} {{}} is not in airlines.airports_dim"),
)
DELAY_RULES = (
    (0x01, "{column} is not a number: '{{}}'"),
    (0x02, "{column} is not a whole number of minutes: '{{}}'"),
    (0x04, "{column} {{}} is outside " + f"{DELAY_MIN}..{DELAY_MAX} minutes"),
)


UNTERMINATED_QUOTE = ('unterminated quote: the line has an odd number of \'"\' characters, so a quoted field '
                      "would run into the next line")


def dictionary_parts(column) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """A text column as (distinct texts, unquoted and with surrounding whitespace trimmed; index of each
    row's text; number of quote characters in each distinct text as written). A field written `"..."` is
    unquoted with `""` read as one quote (RFC 4180)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    indices = array.indices.to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    texts = pc.utf8_trim_whitespace(array.dictionary)
    quotes = pc.count_substring(array.dictionary, '"').to_numpy(zero_copy_only=False).astype(np.int64)
    if quotes.any():
        quoted = pc.match_substring_regex(texts, r'(?s)^".*"$')
        inner = pc.replace_substring(pc.replace_substring_regex(texts, r'(?s)^"(.*)"$', r"\1"), '""', '"')
        texts = pc.utf8_trim_whitespace(pc.if_else(quoted, inner, texts))
    return texts, indices, quotes


def as_bool(values) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def check_carriers(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    codes = np.where(as_bool(pc.match_substring_regex(texts, CARRIER_RULE[0])), 0, 0x01).astype(np.uint8)
    return codes, texts


def check_airport_ids(texts: pa.Array, airport_ids: pa.Array) -> tuple[np.ndarray, pa.Array]:
    is_int = as_bool(pc.match_substring_regex(texts, r"^[0-9]{1,18}$"))
    ids = pc.cast(pc.if_else(pa.array(is_int), texts, pa.scalar(None, pa.string())), pa.int64())
    known = as_bool(pc.is_in(ids, value_set=airport_ids))
    codes = np.where(~is_int, 0x01, np.where(known, 0, 0x02)).astype(np.uint8)
    return codes, ids


def check_delays(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """A cancelled flight has no delays: an empty field is valid and NULL."""
    is_empty = as_bool(pc.equal(texts, ""))
    is_number = as_bool(pc.match_substring_regex(texts, r"^[+-]?([0-9]{1,12}(\.[0-9]*)?|\.[0-9]+)$"))
    number = pc.cast(pc.if_else(pa.array(is_number), texts, pa.scalar(None, pa.string())), pa.float64())
    whole = as_bool(pc.equal(number, pc.floor(number)))
    in_range = as_bool(pc.and_(pc.greater_equal(number, DELAY_MIN), pc.less_equal(number, DELAY_MAX)))
    codes = np.zeros(len(texts), dtype=np.uint8)
    codes[~is_empty & ~is_number] |= 0x01
    codes[is_number & ~whole] |= 0x02
    codes[is_number & whole & ~in_range] |= 0x04
    delays = pc.cast(pc.if_else(pa.array(whole & in_range), number, pa.scalar(None, pa.float64())), pa.int64())
    return codes, delays


def validate_block(
    table: pa.Table, numbers: np.ndarray, airport_ids: pa.Array
) -> tuple[pa.Table, pd.DataFrame | None, int, np.ndarray]:
    """Split one block into valid rows (typed: carrier, origin_airport_id, dest_airport_id, dep_delay,
    arr_delay, source_line) and rejected rows (a pandas DataFrame of the original fields, source_line,
    reason; None when there are none). Returns (valid, rejected, blank, quote_lines): blank counts all-empty
    rows (blank lines), which are not records; quote_lines are the numbers of the lines with an unterminated
    quote (an odd number of `"`), which are rejected.

    Every check runs on the distinct texts of a field (the dictionary); each row gets its field's problem
    bits through its index, so the per-row work is a few array look-ups whatever the number of checks."""
    parts = {c: dictionary_parts(table[c]) for c in COLUMNS}
    fields: dict[str, tuple[pa.Array, np.ndarray]] = {c: (t, i) for c, (t, i, _) in parts.items()}
    row_quotes = sum(quotes[indices] for _, indices, quotes in parts.values())
    unterminated = (row_quotes % 2) == 1
    checked = {  # column -> (problem bits per distinct text, typed value per distinct text)
        "Carrier": check_carriers(fields["Carrier"][0]),
        "OriginAirportID": check_airport_ids(fields["OriginAirportID"][0], airport_ids),
        "DestAirportID": check_airport_ids(fields["DestAirportID"][0], airport_ids),
        "DepDelay": check_delays(fields["DepDelay"][0]),
        "ArrDelay": check_delays(fields["ArrDelay"][0]),
    }
    row_codes = {}
    for column, (codes, _) in checked.items():
        texts, indices = fields[column]
        codes = codes | np.where(as_bool(pc.equal(texts, "")), EMPTY, 0).astype(np.uint8)
        row_codes[column] = codes[indices]
    blank = np.ones(table.num_rows, dtype=bool)
    bad = np.zeros(table.num_rows, dtype=bool)
    for codes in row_codes.values():
        blank &= (codes & EMPTY) != 0
        bad |= (codes & ~np.uint8(EMPTY)) != 0
    bad &= ~blank
    bad |= unterminated
    keep = np.flatnonzero(~bad & ~blank)

    def rows_of(column: str, rows: np.ndarray) -> pa.Array:
        values, indices = checked[column][1], fields[column][1]
        return values.take(pa.array(indices[rows]))

    valid = pa.table(
        {
            "source_line": pa.array(numbers[keep], pa.int64()).cast(pa.int32()),
            "carrier": rows_of("Carrier", keep),
            "origin_airport_id": rows_of("OriginAirportID", keep),
            "dest_airport_id": rows_of("DestAirportID", keep),
            "dep_delay": rows_of("DepDelay", keep),
            "arr_delay": rows_of("ArrDelay", keep),
        }
    )
    rejected = None
    if bad.any():
        rows = np.flatnonzero(bad)
        rules = [("Carrier", 0x01, CARRIER_RULE[1])]
        for column in ("OriginAirportID", "DestAirportID"):
            rules += [(column, bit, text.format(column=column)) for bit, text in AIRPORT_ID_RULES]
        for column in ("DepDelay", "ArrDelay"):
            rules += [(column, bit, text.format(column=column)) for bit, text in DELAY_RULES]
        reason = pd.Series("", index=range(len(rows)), dtype=object)
        for column, bit, template in rules:
            hit = (row_codes[column][rows] & bit) != 0
            if hit.any():
                texts, indices = fields[column]
                field = pd.Series(texts.take(pa.array(indices[rows])).to_numpy(zero_copy_only=False), dtype=object)
                before, after = template.split("{}")
                reason = reason.where(~hit, reason + before + field + after + "; ")
        original = table.take(pa.array(rows))
        original = pa.table({c: pc.cast(original[c], pa.string()) for c in COLUMNS})
        reason = reason.str.rstrip("; ").where(~unterminated[rows], UNTERMINATED_QUOTE)
        rejected = original.to_pandas().assign(
            source_line=numbers[rows], reason=reason.to_numpy(), raw_record=""
        )[REJECT_COLUMNS]
    return valid, rejected, int(blank.sum()), numbers[unterminated]


class UnterminatedQuote(BadFile):
    """A line has a quote that is never closed on it and --multiline_quotes is refuse."""


def scan_file(
    raw,
    order: list[int],
    airport_ids: pa.Array,
    min_dep_delay: int,
    on_valid: Callable[[pa.Table], None],
    on_rejected: Callable[[pd.DataFrame], None],
    uri: str = "the file",
    multiline_quotes: str = "refuse",
) -> Counts:
    """Validate every line of a daily file (a binary stream), streaming; hand valid rows (a pyarrow Table)
    and rejected rows (a pandas DataFrame) to the callbacks. Every data line of the file is counted once:
    rows_read = rows_valid + rows_rejected + rows_blank, else BadFile."""
    counts = Counts()
    quote_lines: list[int] = []
    quoted_lines: list[tuple[int, list[str]]] = []
    counter = LineCounter(raw, CSV_BLOCK_BYTES)

    def reject(number: int, text: str, reason: str) -> None:
        counts.rows_rejected += 1
        row = dict.fromkeys(REJECT_COLUMNS, "")
        row.update(source_line=number, raw_record=text, reason=reason)
        on_rejected(pd.DataFrame([row], columns=REJECT_COLUMNS))

    def malformed(number: int, text: str, fields: int) -> None:
        if number in counter.long_lines:
            reject(number, counter.long_lines[number].decode("utf-8", "replace"),
                   f"line {number} is longer than {CSV_BLOCK_BYTES} bytes")
        elif not text.strip():  # a whitespace-only line is a blank line, not a record
            counts.rows_blank += 1
        elif text.count('"') % 2:
            quote_lines.append(number)
            reject(number, text, UNTERMINATED_QUOTE)
        else:
            split = next(csv.reader([text])) if '"' in text else []
            if len(split) == len(COLUMNS):  # a quoted field holds a comma
                quoted_lines.append((number, split))
            else:
                reject(number, text, f"wrong number of fields: {len(split) or fields} instead of {len(COLUMNS)}")

    def take(valid: pa.Table, rejected: pd.DataFrame | None, blank: int) -> None:
        counts.rows_blank += blank
        counts.rows_valid += valid.num_rows
        kept = pc.sum(pc.fill_null(pc.greater_equal(valid["dep_delay"], min_dep_delay), False)).as_py() or 0
        counts.rows_filtered += valid.num_rows - kept
        if rejected is not None and len(rejected):
            counts.rows_rejected += len(rejected)
            on_rejected(rejected)
        if valid.num_rows:
            on_valid(valid)

    def take_quoted() -> None:
        """Lines whose quoted fields hold commas, split by Python's csv module (RFC 4180), validated as rows
        written with every field quoted (so their quotes count as balanced)."""
        if quoted_lines:
            fields = [['"' + f.replace('"', '""') + '"' for f in row] for _, row in quoted_lines]
            table = pa.table({c: pa.array([row[i] for row in fields], pa.string()) for c, i in zip(COLUMNS, order)})
            numbers = np.asarray([n for n, _ in quoted_lines], dtype=np.int64)
            quoted_lines.clear()
            valid, rejected, blank, _ = validate_block(table, numbers, airport_ids)
            take(valid, rejected, blank)

    def refuse_quotes(lines: list[int]) -> None:
        if multiline_quotes == "refuse" and lines:
            raise UnterminatedQuote(
                f"{uri}: line {min(lines)} has an unterminated quote (\"), which would run into the lines after "
                "it: the day is not loaded (fix the file, or run with --multiline_quotes reject)")

    for table, numbers in read_csv_blocks(pa.PythonFile(counter, mode="r"), order, malformed):
        valid, rejected, blank, in_block = validate_block(table, numbers, airport_ids)
        refuse_quotes(quote_lines + in_block.tolist())
        take(valid, rejected, blank)
        take_quoted()
    refuse_quotes(quote_lines)
    take_quoted()
    counts.rows_read = max(counter.lines - 1, 0)
    counts.rows_filtered += counts.rows_blank
    seen = counts.rows_valid + counts.rows_rejected + counts.rows_blank
    if seen != counts.rows_read:
        raise BadFile(f"{uri}: the CSV reader found {seen} data lines where the file has {counts.rows_read} "
                      "(line breaks must be \\n or \\r\\n; a lone \\r is not one)")
    return counts


# ---- one day: validate, stage, keep the rejects ----------------------------------------------------------

# pandas 1.5 renamed to_csv's line_terminator to lineterminator; Glue's Python shell 3.9 ships pandas 1.4.2,
# which knows only the old name, and pandas 2 only the new one.
CSV_LINE_END = {"lineterminator": "\n"} if pandas_version() >= (1, 5) else {"line_terminator": "\n"}

# Staged rows per Parquet file: the rows of many small days share a file (one PUT, one file for COPY to
# read); a big day is cut into files of this many rows so that the job's memory stays bounded.
PART_ROWS = 1_000_000
EPOCH = dt.date(1970, 1, 1)


class Staging:
    """The Parquet files of one job run under `<staging_prefix><job run id>/flights/`."""

    def __init__(self, s3, bucket: str, prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.keys: list[str] = []  # files written and kept
        self.written = 0
        self.pending: list[pa.Table] = []  # rows of finished days, not yet written
        self.pending_rows = 0

    def write(self, tables: list[pa.Table]) -> str:
        table = pa.concat_tables(tables) if tables else FLIGHTS_STAGE_SCHEMA.empty_table()
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        key = f"{self.prefix}part-{self.written:05d}.parquet"
        self.written += 1
        self.keys.append(key)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())
        return key

    def add(self, tables: list[pa.Table]) -> None:
        """Rows of a day that staged without error; written once enough have gathered."""
        self.pending += tables
        self.pending_rows += sum(t.num_rows for t in tables)
        if self.pending_rows >= PART_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.write(self.pending)
        self.pending, self.pending_rows = [], 0

    def discard(self, keys: list[str]) -> None:
        """Delete files of a day that failed after all."""
        delete_keys(self.s3, self.bucket, keys)
        self.keys = [k for k in self.keys if k not in keys]

    def finish(self) -> None:
        """Write what is pending; an empty file keeps COPY's prefix non-empty when no row passed."""
        self.flush()
        if not self.keys:
            self.write([])


@dataclasses.dataclass
class StagedDay:
    obj: SourceObject
    load_id: str
    counts: Counts
    rejects_location: str | None
    rows_staged: int  # valid rows at or above the threshold: the ones the load can insert


class Rejoined(io.RawIOBase):
    """A stream that yields `head` (bytes already read from `rest`) and then the remainder of `rest`."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.head.nbytes:
            n = min(len(buffer), self.head.nbytes)
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def stage_day(
    s3, args: argparse.Namespace, obj: SourceObject, load_id: str, airport_ids: pa.Array, staging: Staging
) -> StagedDay:
    """Validate one object version; stage its valid rows that pass the threshold as Parquet (the load
    applies the same threshold again) and upload its rejects CSV."""
    if obj.size == 0:
        raise BadFile(f"{obj.uri}: the file is empty (0 bytes)")
    body = s3.get_object(**obj.get_kwargs())["Body"]  # one read: the header check peeks at its first bytes
    head = body.read(HEADER_PEEK_BYTES)
    order = column_order(head, obj.uri)
    day_tables: list[pa.Table] = []
    own_keys: list[str] = []  # files holding only this day's rows (a big day): deleted if the day fails
    staged = [0, 0]  # rows staged, rows not yet written

    def put_part(valid: pa.Table) -> None:
        passes = pc.fill_null(pc.greater_equal(valid["dep_delay"], args.min_dep_delay), False)
        valid = valid.filter(passes)
        rows = valid.num_rows
        if not rows:
            return
        day = np.full(rows, (obj.day - EPOCH).days, dtype=np.int32)
        table = pa.table(
            {
                "flight_date": pa.array(day).view(pa.date32()),
                "load_id": pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), [load_id]),
                **{name: valid[name] for name in valid.column_names},
            }
        ).select(FLIGHTS_STAGE_SCHEMA.names).cast(FLIGHTS_STAGE_SCHEMA)
        day_tables.append(table)
        staged[0] += rows
        staged[1] += rows
        if staged[1] >= PART_ROWS:
            own_keys.append(staging.write(day_tables))
            day_tables.clear()
            staged[1] = 0

    with tempfile.NamedTemporaryFile("w+", suffix=".csv", encoding="utf-8", newline="") as rejects_file:
        wrote_header = [False]

        def keep_rejects(rejected: pd.DataFrame) -> None:
            rejected.to_csv(rejects_file, header=not wrote_header[0], index=False, **CSV_LINE_END)
            wrote_header[0] = True

        try:
            counts = scan_file(Rejoined(head, body), order, airport_ids, args.min_dep_delay, put_part,
                               keep_rejects, obj.uri, args.multiline_quotes)
        except pa.ArrowInvalid as exc:
            staging.discard(own_keys)
            raise BadFile(f"{obj.uri}: not a readable UTF-8 CSV file: {str(exc).splitlines()[0]}") from None
        except BaseException:
            staging.discard(own_keys)
            raise
        if counts.rows_read == counts.rows_blank:
            staging.discard(own_keys)
            raise BadFile(f"{obj.uri}: the file has a header but no data rows")
        rejects_location = None
        if counts.rows_rejected:
            rejects_file.flush()
            key = f"{args.rejects_prefix}date={obj.day.isoformat()}/{args.run_id}.csv"
            s3.upload_file(rejects_file.name, args.raw_bucket, key)
            rejects_location = f"s3://{args.raw_bucket}/{key}"
        share = counts.rows_rejected / counts.rows_read
        if share > args.max_reject_share:
            staging.discard(own_keys)
            raise BadFile(
                f"{obj.uri}: {counts.rows_rejected} of {counts.rows_read} data lines rejected ({share:.1%}), more "
                f"than --max_reject_share {args.max_reject_share:g}: the day is not loaded; rejects in "
                f"{rejects_location}")
    staging.add(day_tables)
    return StagedDay(obj, load_id, counts, rejects_location, staged[0])


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


def delete_keys(s3, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        chunk = [{"Key": k} for k in keys[start:start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})


def delete_prefix(s3, bucket: str, prefix: str) -> None:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    delete_keys(s3, bucket, keys)


# Values formatted into SQL text must look like these (they were validated by check_settings already).
SQL_VALUES = {
    "claims_path": re.compile(r"s3://[a-z0-9.-]+/[A-Za-z0-9_.=/-]+/"),
    "flights_path": re.compile(r"s3://[a-z0-9.-]+/[A-Za-z0-9_.=/-]+/"),
    "loads_path": re.compile(r"s3://[a-z0-9.-]+/[A-Za-z0-9_.=/-]+/"),
    "role_arn": ROLE_ARN,
}


def fill_sql(name: str, **values: str) -> list[str]:
    """The statements of sql/<name> with its {placeholders} filled by validated values only."""
    for key, value in values.items():
        if not SQL_VALUES[key].fullmatch(value):
            raise JobFailed(f"refusing to format {key} {value!r} into SQL")
    return sql.split_statements(re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], sql.text(name)))


def load_batch(args: argparse.Namespace) -> list[str]:
    """The statements of sql/load_days.sql for this run's staged files."""
    root = f"s3://{args.raw_bucket}/{args.staging_prefix}{args.run_id}/"
    statements = fill_sql("load_days.sql", flights_path=root + "flights/", loads_path=root + "loads/",
                          role_arn=args.copy_role_arn)
    if args.fault == "fail_in_transaction":
        statements.append("SELECT CAST('fault injected: fail_in_transaction' AS INTEGER)")
    return statements


# ---- the run ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the job; return the summary. Raises JobFailed (message names objects and problems) on failure."""
    args = parse_args(argv)
    session = boto3.session.Session()
    region = session.region_name or os.environ.get("AWS_REGION", "")
    check_settings(args, region)
    if args.object_key:
        day_of_key(args.object_key, args.raw_prefix)
    s3, glue, db = boto3.client("s3"), boto3.client("glue"), Warehouse(args)
    log(f"job run {args.run_id}: daily flights s3://{args.raw_bucket}/{args.raw_prefix} → Redshift "
        f"(dep_delay >= {args.min_dep_delay})" + (f", started for {args.object_key}" if args.object_key else ""))

    dimension = db.query("SELECT DISTINCT airport_id FROM airlines.airports_dim", "read the airport ids")
    ids = [row["airport_id"] for row in dimension]
    if not ids:
        raise JobFailed("airlines.airports_dim is empty: load the airports dimension first")
    airport_ids = pa.array(ids, pa.int64())

    errors: list[str] = []
    claims = []
    objects = current_objects(s3, candidate_keys(db, glue, args), args)
    superseded = [(earlier, f"not loaded: version {obj.version} was current when job run {args.run_id} looked")
                  for obj in objects for earlier in older_versions(s3, obj)]
    for got in claim_all(db, s3, glue, objects, args, superseded) if objects else []:
        obj = got.obj
        log(f"{obj.day} {obj.uri}: " + ("claimed as load " + got.load_id if got.load_id else got.note))
        if not got.load_id and obj.key == args.object_key and not got.failed_before:
            log(f"nothing new to load for {obj.key}: {got.note}")
        if got.load_id:
            claims.append(got)
        elif got.failed_before and obj.key == args.object_key:
            errors.append(f"{obj.uri}: {got.note}")

    staged: list[StagedDay] = []
    staging = Staging(s3, args.raw_bucket, f"{args.staging_prefix}{args.run_id}/flights/")
    for got in claims:
        try:
            day = stage_day(s3, args, got.obj, got.load_id, airport_ids, staging)
        except BadFile as exc:
            finish(db, got.load_id, "FAILED", False, str(exc))
            errors.append(str(exc))
            log(f"{got.obj.day} FAILED: {exc}")
            continue
        except Exception as exc:  # S3 or network trouble: a later run may retry the same version
            finish(db, got.load_id, "FAILED", True, f"{got.obj.uri}: {exc}")
            errors.append(f"{got.obj.uri}: {exc}")
            log(f"{got.obj.day} FAILED: {exc}")
            continue
        c = day.counts
        log(f"{got.obj.day} staged: read {c.rows_read}, rejected {c.rows_rejected}, valid {c.rows_valid} "
            f"of which {c.rows_filtered} below the threshold; {day.rows_staged} staged"
            + (f"; rejects in {day.rejects_location}" if day.rejects_location else ""))
        staged.append(day)

    # A version that stopped being current while it was read is not loaded: the run started for the newer
    # upload loads that one. S3's one-second LastModified cannot order uploads of the same second; this can.
    for day in staged:
        newer = newer_version(s3, day.obj)
        if newer:
            finish(db, day.load_id, "SUPERSEDED", False,
                   f"not loaded: version {newer} became current while job run {args.run_id} read it")
            log(f"{day.obj.day} {day.obj.uri}: superseded by version {newer} before the load")
    if staged:
        staging.finish()
        put_loads_manifest(s3, args, staged)
        if args.fault == "exit_before_load":
            log("fault injected: exit_before_load: the process dies before the load transaction")
            os._exit(1)
        try:
            db.batch(load_batch(args), f"load {len(staged)} day(s)")
        except StatementFailed as exc:
            for day in staged:
                finish(db, day.load_id, "FAILED", True, f"load transaction failed: {exc}")
            errors.append(f"load of {', '.join(d.obj.uri for d in staged)} failed: {exc}")
        finally:
            delete_prefix(s3, args.raw_bucket, f"{args.staging_prefix}{args.run_id}/")

    ledger = db.query(sql.text("ledger_for_run.sql"), "read this run's ledger rows", job_run_id=args.run_id)
    for row in ledger:
        log(f"{row['flight_date']} {row['status']}: read {row['rows_read']}, loaded {row['rows_loaded']}, "
            f"rejected {row['rows_rejected']}, filtered {row['rows_filtered']}"
            + (f" ({row['error']})" if row["error"] and row["status"] != "LOADED" else ""))
    summary = {
        "job_run_id": args.run_id,
        "object_key": args.object_key or None,
        "min_dep_delay": args.min_dep_delay,
        "loads": ledger,
        "errors": errors,
    }
    log(json.dumps(summary, default=str))
    if errors:
        raise JobFailed(" | ".join(errors))
    if not ledger:
        log("nothing new to load")
    return summary


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except JobFailed as failure:
        # One line on stderr, and the exception itself for Glue's ErrorMessage.
        print(f"JobFailed: {failure}", file=sys.stderr, flush=True)
        raise
