"""The job's arguments, checked before anything reaches SQL text or S3."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import uuid

from flightpipe_job.errors import JobFailed

FAULTS = ("none", "fail_in_transaction", "exit_before_load")
MULTILINE_QUOTES = ("refuse", "reject")

# Values formatted into SQL text (COPY takes no bind parameters) must match these first.
S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
S3_PREFIX = re.compile(r"([A-Za-z0-9_.=-]+/)+")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")


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
