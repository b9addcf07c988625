"""Finding the work: the catalogued days, each day's current version, the versions stored before it.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError

from flightpipe_job.errors import JobFailed
from flightpipe_job.sources import SourceObject, catalogued_keys, current_objects, newer_version, older_versions

KEY = "raw/flights/date=2013-01-02/flights.csv"
ARGS = SimpleNamespace(raw_bucket="flights-bucket", raw_prefix="raw/flights/", object_key="",
                       catalog_database="flights", catalog_table="flights")
WHEN = dt.datetime(2013, 1, 2, 6, 0)


class Pages:
    """A paginator over fixed pages."""

    def __init__(self, pages, error: str = ""):
        self.pages, self.error = pages, error

    def paginate(self, **kwargs):
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "GetPartitions")
        return self.pages


class FakeS3:
    """HeadObject of the keys in `heads` (anything else: 404) and a ListObjectVersions paginator."""

    def __init__(self, heads=None, versions=()):
        self.heads, self.versions = heads or {}, list(versions)

    def head_object(self, Bucket, Key):  # noqa: N803 - boto3's names
        if Key not in self.heads:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return self.heads[Key]

    def get_paginator(self, name):
        assert name == "list_object_versions"
        return Pages(self.versions)


def head(version_id: str, etag: str = "e1") -> dict:
    return {"VersionId": version_id, "ETag": f'"{etag}"', "LastModified": WHEN, "ContentLength": 10}


def test_only_partitions_under_the_raw_prefix_are_catalogued_days():
    glue = SimpleNamespace(get_paginator=lambda name: Pages([
        {"Partitions": [{"StorageDescriptor": {"Location": "s3://flights-bucket/raw/flights/date=2013-01-02/"}}]},
        {"Partitions": [{"StorageDescriptor": {"Location": "s3://flights-bucket/other/date=2013-01-03"}},
                        {"StorageDescriptor": {"Location": "s3://flights-bucket/raw/flights/date=2013-01-04"}}]},
    ]))
    assert catalogued_keys(glue, ARGS) == [KEY, "raw/flights/date=2013-01-04/flights.csv"]


def test_a_table_the_crawler_has_not_made_yet_has_no_days_and_other_errors_fail():
    missing = SimpleNamespace(get_paginator=lambda name: Pages([], error="EntityNotFoundException"))
    assert catalogued_keys(missing, ARGS) == []
    denied = SimpleNamespace(get_paginator=lambda name: Pages([], error="AccessDeniedException"))
    with pytest.raises(ClientError):
        catalogued_keys(denied, ARGS)


def test_current_objects_are_oldest_day_first_and_deleted_or_odd_keys_are_skipped():
    later = "raw/flights/date=2013-01-03/flights.csv"
    s3 = FakeS3({KEY: head("v2"), later: head("null", "e9")})  # "null": written before versioning was on
    found = current_objects(s3, [later, "raw/flights/date=2013-01-05/flights.csv", "raw/flights/notes.txt", KEY],
                            ARGS)
    assert [(o.key, o.version_id, o.version) for o in found] == [(KEY, "v2", "v2"), (later, None, "etag:e9")]
    assert found[0].get_kwargs() == {"Bucket": "flights-bucket", "Key": KEY, "VersionId": "v2"}
    assert found[1].get_kwargs() == {"Bucket": "flights-bucket", "Key": later, "IfMatch": '"e9"'}


def test_the_key_the_run_was_started_for_must_be_a_daily_file():
    args = SimpleNamespace(**{**vars(ARGS), "object_key": "raw/flights/notes.txt"})
    with pytest.raises(JobFailed, match="not a daily flights file"):
        current_objects(FakeS3(), ["raw/flights/notes.txt"], args)


def version(version_id: str, key: str = KEY) -> dict:
    return {"Key": key, "VersionId": version_id, "ETag": f'"{version_id}-etag"', "LastModified": WHEN, "Size": 5}


def test_the_versions_stored_before_the_current_one_are_listed_newest_first():
    # S3 lists a key's versions most recently stored first ("Retrieving object versions", S3 user guide); the
    # prefix also matches longer keys, which are not this key's versions.
    s3 = FakeS3(versions=[{"Versions": [version("v3"), version("x1", KEY + ".bak")]},
                          {"Versions": [version("v2"), version("v1")]}])
    current = SourceObject("flights-bucket", KEY, dt.date(2013, 1, 2), "v3", "v3-etag", WHEN, 5)
    assert [(o.version_id, o.etag) for o in older_versions(s3, current)] == [("v2", "v2-etag"), ("v1", "v1-etag")]
    unversioned = SourceObject("flights-bucket", KEY, dt.date(2013, 1, 2), None, "e1", WHEN, 5)
    assert older_versions(s3, unversioned) == []


def test_a_newer_version_is_one_that_became_current_while_the_run_read():
    read = SourceObject("flights-bucket", KEY, dt.date(2013, 1, 2), "v1", "e1", WHEN, 5)
    assert newer_version(FakeS3({KEY: head("v2")}), read) == "v2"
    assert newer_version(FakeS3({KEY: head("v1")}), read) is None
    assert newer_version(FakeS3(), read) is None  # deleted since: the version read is the last uploaded
