"""Claiming object versions in the ledger (airlines.load_ledger), taking over abandoned claims, and settling them."""

from __future__ import annotations

import argparse
import dataclasses
import io
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from flightpipe_job import sql
from flightpipe_job.data_api import Warehouse
from flightpipe_job.loading import fill_sql
from flightpipe_job.log import log
from flightpipe_job.sources import SourceObject
from flightpipe_job.staging import delete_keys

# A Glue job run in one of these states will never finish its claim.
ENDED_RUN_STATES = {"FAILED", "TIMEOUT", "STOPPED", "ERROR", "SUCCEEDED"}


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


def finish(db: Warehouse, load_id: str, status: str, retryable: bool, error: str) -> None:
    db.execute(
        sql.text("ledger_finish.sql"), f"mark load {load_id} {status}", load_id=load_id, status=status,
        retryable=str(retryable).lower(), error=(error or status)[:2000],
    )
