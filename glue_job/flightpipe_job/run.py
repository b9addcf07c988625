"""The run: find the work, claim it, stage each day, load them all in one transaction, report."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pyarrow as pa

from flightpipe_job import sql
from flightpipe_job.data_api import DataApiClient
from flightpipe_job.errors import BadFile, DataApiError, JobFailed
from flightpipe_job.ledger import claim_all, finish
from flightpipe_job.loading import load_batch, put_loads_manifest
from flightpipe_job.log import log
from flightpipe_job.session import job_session
from flightpipe_job.settings import check_settings, day_of_key, parse_args
from flightpipe_job.sources import (
    LIST_PREFIX_FROM,
    candidate_keys,
    current_objects,
    newer_version,
    older_versions,
    prefix_versions,
)
from flightpipe_job.staging import AHEAD_GETS, StagedDay, Staging, delete_prefix, open_ahead, stage_day


def known_airport_ids(dimension: Callable[[], list[dict[str, Any]]]) -> pa.Array:
    """The airport ids of the dimension (the query's rows, once it finished); JobFailed if it is empty."""
    ids = [row["airport_id"] for row in dimension()]
    if not ids:
        raise JobFailed("airlines.airports_dim is empty: load the airports dimension first")
    return pa.array(ids, pa.int64())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the job; return the summary. Raises JobFailed (message names objects and problems) on failure."""
    args = parse_args(argv)
    session = job_session()  # the one session of the process: boto3.client() uses it too
    region = session.region_name or os.environ.get("AWS_REGION", "")
    check_settings(args, region)
    if args.object_key:
        day_of_key(args.object_key, args.raw_prefix)
    # The two reads of the warehouse are sent first, together, and collected when needed: the warehouse runs
    # them while the S3 and Glue clients are created (their service models are loaded per process, on AWS
    # too) and the catalog is listed, so the run waits for neither statement on its own. The airport ids are
    # collected before the first claim, the settled days once the catalog is listed. All clients come from
    # the one session.
    db = DataApiClient(args)
    dimension = db.start_query("SELECT DISTINCT airport_id FROM airlines.airports_dim", "read the airport ids")
    settled = db.start_query(sql.text("ledger_settled_keys.sql"), "read the settled days", bucket=args.raw_bucket)
    s3, glue = session.client("s3"), session.client("glue")
    log(f"job run {args.run_id}: daily flights s3://{args.raw_bucket}/{args.raw_prefix} → Redshift "
        f"(dep_delay >= {args.min_dep_delay})" + (f", started for {args.object_key}" if args.object_key else ""))

    errors: list[str] = []
    claims = []
    keys = candidate_keys(glue, args, settled)
    listed = prefix_versions(s3, args.raw_bucket, args.raw_prefix) if len(keys) >= LIST_PREFIX_FROM else None
    objects = current_objects(s3, keys, args, listed)
    superseded = [(earlier, f"not loaded: version {obj.version} was current when job run {args.run_id} looked")
                  for obj in objects for earlier in older_versions(s3, obj, listed)]
    airport_ids = known_airport_ids(dimension)  # before the first claim: an empty dimension claims nothing
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
    pool = ThreadPoolExecutor(max_workers=AHEAD_GETS, thread_name_prefix="get-ahead")
    for got, opened in zip(claims, open_ahead(s3, [got.obj for got in claims], pool)):
        try:
            day = stage_day(s3, args, got.obj, got.load_id, airport_ids, staging, opened)
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
    pool.shutdown()

    # A version that stopped being current while it was read is not loaded: the run started for the newer
    # upload loads that one. S3's one-second LastModified cannot order uploads of the same second; this can.
    listed = prefix_versions(s3, args.raw_bucket, args.raw_prefix) if len(staged) >= LIST_PREFIX_FROM else None
    for day in staged:
        newer = newer_version(s3, day.obj, listed)
        if newer:
            finish(db, day.load_id, "SUPERSEDED", False,
                   f"not loaded: version {newer} became current while job run {args.run_id} read it")
            log(f"{day.obj.day} {day.obj.uri}: superseded by version {newer} before the load")
    ledger = None
    if staged:
        staging.finish()
        put_loads_manifest(s3, args, staged)
        if args.fault == "exit_before_load":
            log("fault injected: exit_before_load: the process dies before the load transaction")
            os._exit(1)
        try:
            loaded = db.batch(load_batch(args), f"load {len(staged)} day(s)")
            ledger = db.rows(loaded["SubStatements"][-1]["Id"])  # the batch's last statement: the run's ledger
        except DataApiError as exc:
            for day in staged:
                finish(db, day.load_id, "FAILED", True, f"load transaction failed: {exc}")
            errors.append(f"load of {', '.join(d.obj.uri for d in staged)} failed: {exc}")
        finally:
            delete_prefix(s3, args.raw_bucket, f"{args.staging_prefix}{args.run_id}/")

    if ledger is None:  # nothing loaded, or the load failed
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
