"""Finding the work: the daily files to consider and the object version of each."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from typing import Any, Callable

from botocore.exceptions import ClientError

from flightpipe_job.errors import JobFailed
from flightpipe_job.log import log
from flightpipe_job.settings import day_of_key


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
        # Only the locations are read: without the column schema repeated in every partition, a year's catalog
        # is a fraction of the bytes to send and parse (GetPartitions, ExcludeColumnSchema).
        pages = glue.get_paginator("get_partitions").paginate(
            DatabaseName=args.catalog_database, TableName=args.catalog_table, ExcludeColumnSchema=True
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


def candidate_keys(glue, args: argparse.Namespace, settled_rows: Callable[[], list[dict[str, Any]]]) -> list[str]:
    """The daily files this run considers: --object_key, and every catalogued day the ledger has not settled.
    `settled_rows()` returns the rows of sql/ledger_settled_keys.sql (a query started earlier)."""
    catalogued = catalogued_keys(glue, args)
    settled = {row["source_key"] for row in settled_rows()}
    keys = {key for key in catalogued if key not in settled}
    if args.object_key:
        keys.add(args.object_key)
    log(f"{len(catalogued)} catalogued day(s) under s3://{args.raw_bucket}/{args.raw_prefix}, "
        f"{len(settled.intersection(catalogued))} of them settled; {len(keys)} to consider")
    return sorted(keys)


# From this many keys on, ONE listing of the raw prefix's versions (1,000 a page) replaces a HeadObject and a
# ListObjectVersions per key (a backfill of a year: 2 pages instead of 730 calls); below, each key is asked alone.
LIST_PREFIX_FROM = 2


def current_objects(s3, keys: list[str], args: argparse.Namespace,
                    listed: dict[str, list[dict]] | None = None) -> list[SourceObject]:
    """The current version of each daily file of `keys`, oldest day first: from `listed` (prefix_versions)
    when given, else a HeadObject per key."""
    wanted = {}
    for key in keys:
        try:
            wanted[key] = day_of_key(key, args.raw_prefix)
        except JobFailed as exc:
            if key == args.object_key:
                raise
            log(f"ignored: {exc}")
    found = []
    for key, day in wanted.items():
        head = current_version(s3, args.raw_bucket, key, listed)
        if head is None:
            log(f"ignored: s3://{args.raw_bucket}/{key} has no current version (deleted)")
            continue
        version_id = head.get("VersionId")
        found.append(
            SourceObject(
                bucket=args.raw_bucket, key=key, day=day,
                version_id=version_id if version_id and version_id != "null" else None,
                etag=head["ETag"].strip('"'), last_modified=head["LastModified"], size=head["ContentLength"],
            )
        )
    return sorted(found, key=lambda o: o.day)


def prefix_versions(s3, bucket: str, prefix: str) -> dict[str, list[dict]]:
    """Every version and delete marker under `prefix`, by key, most recently stored first (S3 lists a key's
    versions newest first, "Retrieving object versions", Amazon S3 user guide; markers are merged by date)."""
    by_key: dict[str, list[dict]] = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            by_key.setdefault(version["Key"], []).append(version)
        for marker in page.get("DeleteMarkers", []):
            by_key.setdefault(marker["Key"], []).append({**marker, "DeleteMarker": True})
    for entries in by_key.values():
        entries.sort(key=lambda v: (not v.get("IsLatest"), -v["LastModified"].timestamp()))
    return by_key


def current_version(s3, bucket: str, key: str, listed: dict[str, list[dict]] | None) -> dict | None:
    """HeadObject's answer for the key's current version (VersionId, ETag, LastModified, ContentLength), or
    None when it has none (deleted). From `listed` (prefix_versions) when given: the same fields, LastModified
    to the second as HeadObject's Last-Modified header gives it."""
    if listed is None:
        try:
            return s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
    latest = next((v for v in listed.get(key, []) if v.get("IsLatest")), None)
    if latest is None or latest.get("DeleteMarker"):
        return None
    return {"VersionId": latest["VersionId"], "ETag": latest["ETag"], "ContentLength": latest["Size"],
            "LastModified": latest["LastModified"].replace(microsecond=0)}


def older_versions(s3, obj: SourceObject, listed: dict[str, list[dict]] | None = None) -> list[SourceObject]:
    """The versions of obj's key stored before obj, newest first: in a burst of uploads a run finds a newer
    version current, and these get their own ledger row (SUPERSEDED) instead of none. S3 lists a key's
    versions most recently stored first ("Retrieving object versions", Amazon S3 user guide). From `listed`
    (prefix_versions) when given, else one listing of the key."""
    if not obj.version_id:
        return []
    if listed is not None:
        pages = [{"Versions": [v for v in listed.get(obj.key, []) if not v.get("DeleteMarker")]}]
    else:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=obj.bucket, Prefix=obj.key)
    older, seen = [], False
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


def newer_version(s3, obj: SourceObject, listed: dict[str, list[dict]] | None = None) -> str | None:
    """The key's current version if it is no longer `obj` (a newer upload landed while this run read it);
    from `listed` (prefix_versions, made after the reads) when given, else from a HeadObject."""
    if not obj.version_id:
        return None
    head = current_version(s3, obj.bucket, obj.key, listed)
    if head is None:
        return None  # deleted since: the version read is still the last one uploaded
    current = head.get("VersionId")
    return current if current and current != obj.version_id else None
