"""The operator's check of one day (`flightpipe run check`, notebook 30): did the day's file arrive, did its
execution end well, does the ledger say LOADED? Each question answers with what it found, or raises
`DayNotLoaded` saying why the day is not loaded.

Every call is read-only: in production an upstream system uploads the file and the event chain loads it; the
check only looks.
"""

from __future__ import annotations

import datetime as dt
import json

from flightpipe.provisioned import PlainError


class DayNotLoaded(PlainError):
    """The day's load is missing, unfinished or failed: the message says which and what was seen."""


def day_to_check(run_date: str, today: dt.date | None = None) -> dt.date:
    """`run_date` as a date; empty means yesterday (UTC), the day an upstream system delivered last."""
    if run_date:
        return dt.date.fromisoformat(run_date)
    return (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)


def arrived_version(s3, bucket: str, key: str) -> dict:
    """The newest version of `key` (ListObjectVersions: VersionId, LastModified, Size), or DayNotLoaded."""
    versions = [v for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
                for v in page.get("Versions", []) if v["Key"] == key]
    latest = [v for v in versions if v.get("IsLatest")]
    if not latest:
        raise DayNotLoaded(f"no file at s3://{bucket}/{key}: the upstream upload has not arrived")
    return latest[0]


def execution_for(sfn, state_machine_arn: str, key: str, version_id: str, since: dt.datetime) -> dict:
    """The newest execution whose input (the CloudTrail event) names this object version, described; executions
    are listed newest first, so the search stops at those started before the upload (`since`)."""
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        for ex in page["executions"]:
            if ex["startDate"] < since - dt.timedelta(minutes=1):
                break
            described = sfn.describe_execution(executionArn=ex["executionArn"])
            detail = json.loads(described.get("input") or "{}").get("detail", {})
            written = detail.get("responseElements") or {}
            if detail.get("requestParameters", {}).get("key") == key and written.get("x-amz-version-id") in (
                    None, version_id):
                return described
        else:
            continue
        break
    raise DayNotLoaded(f"no execution started for s3 key {key} (version {version_id}): check that the EventBridge "
                       "rule is enabled and the CloudTrail trail is logging")


def execution_ended_well(execution: dict) -> None:
    """DayNotLoaded unless the execution SUCCEEDED."""
    name, status = execution.get("name", "?"), execution["status"]
    if status == "RUNNING":
        raise DayNotLoaded(f"execution {name} is still running (started {execution['startDate']:%Y-%m-%d %H:%M} UTC)")
    if status != "SUCCEEDED":
        why = " ".join(f"{execution.get('error', '')}: {execution.get('cause', '')}".split())[:300]
        raise DayNotLoaded(f"execution {name} ended {status} ({why})")


def ledger_loaded(ledger, key: str, version_id: str) -> dict:
    """The ledger row of this object version, as a dict, or DayNotLoaded unless its status is LOADED."""
    if len(ledger) == 0:
        raise DayNotLoaded(f"the load ledger has no row for {key} version {version_id}: the job never claimed it")
    row = ledger.iloc[0].to_dict()
    if row["status"] != "LOADED":
        raise DayNotLoaded(f"the load ledger says {row['status']} for {key}: {row.get('error') or 'no error given'}")
    return row
