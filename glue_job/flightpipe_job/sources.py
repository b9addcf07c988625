"""Finding the work: the daily files to consider and the object version of each."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt

from botocore.exceptions import ClientError

from flightpipe_job import sql
from flightpipe_job.data_api import Warehouse
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
