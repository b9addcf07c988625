"""One day staged: valid rows as Parquet, rejects as CSV, a day with too many rejects refused.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from job_inputs import AIRPORT_IDS, HEADER, base_argv

from flightpipe_job import staging as staging_module
from flightpipe_job.errors import BadFile
from flightpipe_job.settings import parse_args
from flightpipe_job.sources import SourceObject
from flightpipe_job.staging import Rejoined, Staging, stage_day
from flightpipe_job.validation import REJECT_COLUMNS


class FakeS3:
    """The S3 calls stage_day makes, in memory: one object to read, uploads kept."""

    def __init__(self, body: bytes):
        self.body, self.uploads = body, {}

    def get_object(self, **kwargs):
        return {"Body": io.BytesIO(self.body)}

    def upload_file(self, filename, bucket, key):
        self.uploads[key] = Path(filename).read_bytes()

    def put_object(self, Bucket, Key, Body):  # noqa: N803 - boto3's names
        self.uploads[Key] = Body

    def delete_objects(self, **kwargs):
        pass


def test_a_day_with_rejected_rows_stages_and_writes_its_rejects_csv():
    """The rejects CSV is written with the pandas of the runtime the job runs on (Glue's is pandas 1.4)."""
    body = HEADER + b"\nAA,10397,12478,61,5\nAA,10397,12478,late,5\nUA,12478,13303,75,\nAA,10397\n"

    obj = SourceObject(bucket="flights-bucket", key="raw/flights/date=2013-01-02/flights.csv",
                           day=dt.date(2013, 1, 2), version_id="v1", etag="e", last_modified=dt.datetime(2013, 1, 2),
                           size=len(body))
    args = parse_args(base_argv(run_id="jr_7", max_reject_share="0.5"))
    s3 = FakeS3(body)
    staging = Staging(s3, args.raw_bucket, "staging/flights/jr_7/flights/")
    day = stage_day(s3, args, obj, "load-1", AIRPORT_IDS, staging)
    staging.finish()

    assert (day.counts.rows_read, day.counts.rows_rejected, day.rows_staged) == (4, 2, 2)
    key = "rejects/flights/date=2013-01-02/jr_7.csv"
    assert day.rejects_location == f"s3://flights-bucket/{key}"
    text = s3.uploads[key].decode()
    assert "\r" not in text
    rejects = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert sorted(rejects.source_line.tolist()) == ["3", "5"]
    assert list(rejects.columns) == REJECT_COLUMNS
    (staged_key,) = [k for k in s3.uploads if k.startswith("staging/")]
    rows = pq.read_table(pa.BufferReader(s3.uploads[staged_key])).to_pandas()
    assert rows.source_line.tolist() == [2, 4] and rows.dep_delay.tolist() == [61, 75]


def stage(body: bytes, **overrides: str):
    obj = SourceObject(bucket="flights-bucket", key="raw/flights/date=2013-01-02/flights.csv",
                           day=dt.date(2013, 1, 2), version_id="v1", etag="e", last_modified=dt.datetime(2013, 1, 2),
                           size=len(body))
    args = parse_args(base_argv(run_id="jr_8", **overrides))
    s3 = FakeS3(body)
    staging = Staging(s3, args.raw_bucket, "staging/flights/jr_8/flights/")
    return stage_day(s3, args, obj, "load-1", AIRPORT_IDS, staging), s3


@pytest.mark.parametrize("bad, refused", [(1, False), (2, True), (20, True)])
def test_a_day_whose_rejected_share_exceeds_the_threshold_is_refused(bad, refused):
    rows = [b"AA,10397,12478,61,5"] * (20 - bad) + [b"AA,10397,12478,late,5"] * bad  # 20 data lines
    body = HEADER + b"\n" + b"\n".join(rows) + b"\n"
    assert parse_args(base_argv()).max_reject_share == 0.05
    if not refused:  # 1 of 20 = 5 %: not more than the default
        day, _ = stage(body)
        assert (day.counts.rows_read, day.counts.rows_rejected) == (20, 1)
        return
    with pytest.raises(BadFile) as failure:
        stage(body)
    message = str(failure.value)
    assert f"{bad} of 20 data lines rejected ({bad / 20:.1%})" in message
    assert "--max_reject_share 0.05" in message and "rejects in s3://flights-bucket/rejects/" in message
    day, _ = stage(body, max_reject_share="1")  # the user may accept any share
    assert day.counts.rows_rejected == bad


def test_a_day_without_rejects_creates_no_rejects_file(monkeypatch):
    def no_file(*args, **kwargs):
        raise AssertionError("a rejects file was created for a day without rejects")

    monkeypatch.setattr(staging_module.tempfile, "NamedTemporaryFile", no_file)
    day, s3 = stage(HEADER + b"\nAA,10397,12478,61,5\nUA,12478,13303,,\n")
    assert (day.counts.rows_rejected, day.rejects_location, day.rows_staged) == (0, None, 1)
    assert not [k for k in s3.uploads if k.startswith("rejects/")]


@pytest.mark.parametrize("size", [1, 7, 64, -1])
def test_rejoined_reads_the_peeked_head_then_the_rest_in_reads_of_at_most_the_size_asked(size):
    data = bytes(range(256)) * 4
    stream, parts = Rejoined(data[:100], io.BytesIO(data[100:])), []
    while True:
        part = stream.read(size)
        if not part:
            break
        assert size < 0 or len(part) <= size
        parts.append(part)
    assert b"".join(parts) == data
    buffer = bytearray(10)  # readinto, as before
    assert Rejoined(data[:4], io.BytesIO(data[4:])).readinto(buffer) == 4 and bytes(buffer[:4]) == data[:4]
