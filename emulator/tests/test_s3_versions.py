"""ListObjectVersions lists every version without copying the stored objects, and answers as moto's own walk."""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
import uuid

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import FakeKey, s3_backends

from flightpipe_local import s3_versions


@pytest.fixture
def versioned(aws):
    """A versioned bucket whose keys have several versions, delete markers, and names across prefixes."""
    s3 = aws("s3")
    bucket = f"versions-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for key, body in [("a/1", b"one"), ("a/2", b"two"), ("a/2", b"two again"), ("a/b/3", b"three"),
                      ("b/1", b"b one"), ("a/3", b"gone"), ("a/2", b"two, third")]:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        time.sleep(0.002)  # versions ordered by LastModified (milliseconds), newest first
    s3.delete_object(Bucket=bucket, Key="a/3")  # a delete marker is a/3's current version
    time.sleep(0.002)
    s3.delete_object(Bucket=bucket, Key="b/1")
    time.sleep(0.002)
    s3.put_object(Bucket=bucket, Key="b/1", Body=b"b one back")  # a version newer than b/1's marker
    return s3, bucket


def test_versions_are_listed_newest_first_with_the_latest_marked(versioned):
    """Worked out from the S3 API reference, ListObjectVersions: versions of a key are returned with the latest
    first, IsLatest true for the current version only (a delete marker when the key was deleted last)."""
    s3, bucket = versioned
    page = s3.list_object_versions(Bucket=bucket, Prefix="a/")
    versions = [(v["Key"], v["IsLatest"], v["Size"]) for v in page["Versions"]]
    assert versions == [("a/1", True, 3), ("a/2", True, 10), ("a/2", False, 9), ("a/2", False, 3),
                        ("a/3", False, 4), ("a/b/3", True, 5)]
    assert [(m["Key"], m["IsLatest"]) for m in page["DeleteMarkers"]] == [("a/3", True)]
    whole = s3.list_object_versions(Bucket=bucket, Prefix="b/")
    assert [(v["Key"], v["IsLatest"]) for v in whole["Versions"]] == [("b/1", True), ("b/1", False)]
    assert [(m["Key"], m["IsLatest"]) for m in whole["DeleteMarkers"]] == [("b/1", False)]
    assert whole["Versions"][0]["ETag"] == f'"{hashlib.md5(b"b one back").hexdigest()}"'


@pytest.mark.parametrize(("listing", "copies"), [(s3_versions._list_object_versions, 0),
                                                 (s3_versions.MOTO_LIST_OBJECT_VERSIONS, 8)])
def test_listing_copies_no_stored_object(versioned, monkeypatch, listing, copies):
    """moto's own walk deep-copies every version of the bucket (a FakeKey's copy reads its body into a new
    file); the listing copies none. Counted in this thread only: the stack's snapshots copy keys too."""
    _, bucket = versioned
    copied = []
    moto_getstate = FakeKey.__getstate__

    def getstate(self):
        if threading.get_ident() == here:
            copied.append(self.name)
        return moto_getstate(self)

    here = threading.get_ident()
    monkeypatch.setattr(FakeKey, "__getstate__", getstate)
    versions, _, markers, _, _ = listing(s3_backends[DEFAULT_ACCOUNT_ID]["global"], bucket)
    assert (len(versions), len(markers)) == (8, 2)
    assert len(copied) == copies


def _walk(listing, backend, bucket, **options):
    """Every page a client paging through NextKeyMarker/NextVersionIdMarker gets, as comparable tuples."""
    pages, key_marker, version_id_marker = [], options.pop("key_marker", None), None
    while True:
        versions, prefixes, markers, next_key, next_version = listing(
            backend, bucket, key_marker=key_marker, version_id_marker=version_id_marker, **options)
        pages.append(([(v.name, v.version_id, v.is_latest) for v in versions], prefixes,
                      [(m.name, m.version_id, m.is_latest) for m in markers], next_key, next_version))
        if next_key is None or len(pages) > 50:
            return pages
        key_marker, version_id_marker = next_key, next_version


@pytest.mark.parametrize(("prefix", "delimiter", "max_keys", "key_marker"), [
    *itertools.product(["", "a/", "a/2", "c"], [None, "/"], [1, 2, 3, 1000], [None]),
    ("", None, 2, "a/2"), ("a/", None, 1000, "a/2"), ("", "/", 1, "a/"),
])
def test_every_page_is_the_page_moto_gives(versioned, prefix, delimiter, max_keys, key_marker):
    _, bucket = versioned
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["global"]
    options = dict(prefix=prefix, delimiter=delimiter, max_keys=max_keys, key_marker=key_marker)
    ours = _walk(s3_versions._list_object_versions, backend, bucket, **options)
    assert ours == _walk(s3_versions.MOTO_LIST_OBJECT_VERSIONS, backend, bucket, **options)
