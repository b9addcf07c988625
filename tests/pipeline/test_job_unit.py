"""The Glue job's parsing, validation and whole-file checks on in-memory data (no stack).

This file also runs on its own under Glue's runtime (Python 3.9 and the analytics library set's versions, see
emulator/flightpipe_local/glue_runtime.py): it needs no conftest and keeps to Python 3.9 syntax.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
AIRPORT_IDS = pa.array([10397, 12478, 13303], pa.int64())
HEADER = b"Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay"


@pytest.fixture(scope="module")
def job():
    """The Glue job script imported as a module (here rather than in conftest, so the file runs alone)."""
    spec = importlib.util.spec_from_file_location("daily_flights_etl", ROOT / "glue_job" / "daily_flights_etl.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["daily_flights_etl"] = module
    spec.loader.exec_module(module)
    return module


def scan(job, data: bytes, min_dep_delay: int = 60, multiline_quotes: str = "refuse"):
    """Run the job's whole-file check and row validation over `data`; return (counts, valid, rejected)."""
    order = job.column_order(data[: job.HEADER_PEEK_BYTES], "s3://bucket/key")
    valid, rejected = [], []
    counts = job.scan_file(io.BytesIO(data), order, AIRPORT_IDS, min_dep_delay, valid.append, rejected.append,
                           "s3://bucket/key", multiline_quotes)
    valid = pa.concat_tables(valid).to_pandas() if valid else pd.DataFrame()
    rejected = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=job.REJECT_COLUMNS)
    return counts, valid, rejected


def test_reordered_header_with_bom_case_spaces_and_crlf_is_accepted(job):
    data = b'\xef\xbb\xbf ArrDelay ,"depdelay",CARRIER,OriginAirportID,DestAirportID\r\n5,61,AA,10397,12478\r\n'
    counts, valid, rejected = scan(job, data)
    assert counts.rows_read == 1 and rejected.empty
    row = valid.iloc[0]
    assert (row.carrier, row.origin_airport_id, row.dest_airport_id, row.dep_delay, row.arr_delay) == (
        "AA", 10397, 12478, 61, 5)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"Carrier,OriginAirportID,DestAirportID,DepDelay\n", "missing ['ArrDelay']"),
        (b"Carrier,Origin,DestAirportID,DepDelay,ArrDelay\n", "unexpected ['origin']"),
        (HEADER + b",Tail\n", "unexpected ['tail']"),
        (HEADER + b",carrier\n", "repeated ['carrier']"),
        (b"\x1f\x8b\x08\x00\xff\xfe binary", "not UTF-8"),
        (b"x" * 70000, "no line break"),
    ],
)
def test_unusable_headers_fail_naming_the_object(job, data, words):
    with pytest.raises(job.BadFile) as failure:
        job.column_order(data[: job.HEADER_PEEK_BYTES], "s3://bucket/raw/date=2013-01-01/flights.csv?versionId=v1")
    assert "s3://bucket/raw/date=2013-01-01/flights.csv?versionId=v1" in str(failure.value)
    assert words in str(failure.value)


def test_every_bad_row_class_is_rejected_with_its_line_and_reason(job):
    lines = [
        HEADER,
        b"AA,10397,12478,61,5",  # 2 valid, kept
        b"AA,10397,12478",  # 3 wrong field count
        b",10397,12478,61,5",  # 4 empty carrier
        b"A-1,10397,12478,61,5",  # 5 carrier not alphanumeric
        b"AA,10397,12478,soon,5",  # 6 non-numeric delay
        b"AA,10397,12478,61,99999",  # 7 absurd delay
        b"AA,10397,12478,1.5,5",  # 8 not whole minutes
        b"AA,11111,12478,61,5",  # 9 airport not in the dimension
        b"AA,JFK,12478,61,5",  # 10 non-integer airport id
        b"UA,12478,13303,,",  # 11 cancelled: valid, NULL delays, filtered
        b'"B6","13303","10397","60",""',  # 12 quoted, exactly the threshold, NULL arrival: kept
        b"AA,10397,12478,59,5",  # 13 just below the threshold: filtered
        b"AA,10397,12478,1,2,3",  # 14 too many fields
    ]
    counts, valid, rejected = scan(job, b"\n".join(lines) + b"\n")
    expected_rejects = {3: "number of fields", 4: "Carrier", 5: "Carrier", 6: "not a number", 7: "outside",
                        8: "whole number", 9: "not in airlines.airports_dim", 10: "not an integer",
                        14: "number of fields"}
    got = dict(zip(rejected.source_line.astype(int), rejected.reason))  # noqa: B905 - runs on Python 3.9 too
    assert sorted(got) == sorted(expected_rejects)
    for line, words in expected_rejects.items():
        assert words in got[line], (line, got[line])
    assert valid.source_line.tolist() == [2, 11, 12, 13]
    assert valid.dep_delay.isna().tolist() == [False, True, False, False]
    assert valid.arr_delay.isna().tolist() == [False, True, True, False]
    assert counts.rows_read == len(lines) - 1
    assert counts.rows_rejected == len(expected_rejects)
    assert counts.rows_filtered == 2  # the cancelled flight and the 59
    assert counts.rows_read == counts.rows_valid + counts.rows_rejected
    # A rejected row keeps its original fields; a malformed one its raw text.
    assert rejected.set_index("source_line").loc[6, "DepDelay"] == "soon"
    assert rejected.set_index("source_line").loc[3, "raw_record"] == "AA,10397,12478"


def test_blank_lines_count_as_filtered_and_a_quoted_newline_is_an_unterminated_quote(job):
    # lines: 1 header, 2 blank, 3 valid, 4-5 one quoted field holding a line break, 6 blank, 7 valid
    data = HEADER + b'\r\n\r\nAA,10397,12478,61,5\r\n"A\nA",10397,12478,61,5\r\n   \r\nUA,10397,12478,70,1\r\n'
    with pytest.raises(job.BadFile, match=r"s3://bucket/key: line 4 has an unterminated quote"):
        scan(job, data)
    counts, valid, rejected = scan(job, data, multiline_quotes="reject")
    assert counts.rows_read == 6  # data lines: 7 physical lines minus the header
    assert valid.source_line.tolist() == [3, 7]
    assert rejected.source_line.tolist() == [4, 5]
    assert all("unterminated quote" in reason for reason in rejected.reason)
    assert (counts.rows_blank, counts.rows_filtered, counts.rows_rejected) == (2, 2, 2)


@pytest.mark.parametrize(
    "tail, data_lines",
    [
        (b"AA,10397,12478,61,5\nUA,10397,12478,70,1\n", 2),  # the last line break ends the last line
        (b"AA,10397,12478,61,5\nUA,10397,12478,70,1", 2),  # a last line without one still counts
        (b"AA,10397,12478,61,5\r\nUA,10397,12478,70,1\r\n", 2),
        (b"AA,10397,12478,61,5\nUA,10397,12478,70,1\n\n", 3),  # an empty line after it is a (blank) line
        (b"AA,10397,12478,61,5\n\n\nUA,10397,12478,70,1\n \n", 5),
    ],
)
def test_rows_read_is_the_files_own_line_count(job, tail, data_lines):
    data = b"\xef\xbb\xbf" + HEADER + b"\n" + tail
    assert data.count(b"\n") + (not data.endswith(b"\n")) - 1 == data_lines  # the count, by hand
    counts, valid, rejected = scan(job, data)
    assert counts.rows_read == data_lines and valid.source_line.tolist()[0] == 2 and rejected.empty
    assert counts.rows_read == counts.rows_valid + counts.rows_rejected + counts.rows_blank
    assert counts.rows_filtered == data_lines - 2  # the blank lines: both rows pass the threshold


def stray_quote_day() -> tuple[bytes, list[bytes]]:
    """914 lines: a header and 913 flights; line 102 opens a quote it never closes."""
    lines = [HEADER] + [b"AA,10397,12478,%d,5" % (60 + i % 50) for i in range(2, 915)]
    lines[101] = b'AA,"10397,12478,75,5'
    return b"\n".join(lines) + b"\n", lines


def test_a_stray_quote_is_refused_with_its_line_or_rejected_alone(job):
    data, lines = stray_quote_day()
    with pytest.raises(job.BadFile, match=r"line 102 has an unterminated quote"):
        scan(job, data)
    counts, valid, rejected = scan(job, data, multiline_quotes="reject")
    assert rejected.source_line.tolist() == [102] and "unterminated quote" in rejected.reason[0]
    assert valid.source_line.tolist() == [n for n in range(2, 915) if n != 102]
    assert (counts.rows_read, counts.rows_rejected, counts.rows_valid) == (913, 1, 912)
    # A reader that lets a quoted field hold line breaks (pandas' C parser here) reads on to the end of the file.
    with pytest.raises(pd.errors.ParserError, match="EOF inside string"):
        pd.read_csv(io.BytesIO(data), dtype=str)


def test_quoted_fields_are_unquoted_and_a_quoted_comma_is_one_field(job):
    data = HEADER + b'\n"AA","10397"," 12478 ","6""1",""\n"U,A",10397,12478,61,5\n"UA",10397,12478,61,5\n'
    counts, valid, rejected = scan(job, data)
    assert valid.source_line.tolist() == [4] and valid.carrier.tolist() == ["UA"]
    got = dict(zip(rejected.source_line.astype(int), rejected.reason))  # noqa: B905 - runs on Python 3.9 too
    assert sorted(got) == [2, 3]
    assert "DepDelay is not a number: '6\"1'" in got[2]
    assert "Carrier must be 2-3 letters or digits: 'U,A'" in got[3]
    assert counts.rows_read == 3


def test_a_line_longer_than_the_read_block_is_rejected_and_the_rest_loads(job, monkeypatch):
    monkeypatch.setattr(job, "CSV_BLOCK_BYTES", 4096)
    fits = b"AA,10397,12478,61," + b" " * (4096 - 19) + b"5"  # exactly 4096 bytes: still a line
    assert len(fits) == 4096
    lines = [HEADER, b"AA,10397,12478,61,5", b"AA,10397,12478,61,5" + b"9" * 10000, fits,
             b"UA,10397,12478,70,1", b"AA," + b"x" * 9000]  # the last one without a line break
    counts, valid, rejected = scan(job, b"\n".join(lines))
    assert valid.source_line.tolist() == [2, 4, 5]
    got = dict(zip(rejected.source_line.astype(int), rejected.reason))  # noqa: B905 - runs on Python 3.9 too
    assert got == {3: "line 3 is longer than 4096 bytes", 6: "line 6 is longer than 4096 bytes"}
    assert counts.rows_read == 5
    assert rejected.set_index("source_line").loc[3, "raw_record"].startswith("AA,10397,12478,61,5999")


def test_a_lone_carriage_return_fails_the_file_instead_of_miscounting(job):
    with pytest.raises(job.BadFile, match="lone"):
        scan(job, HEADER + b"\nAA,10397,12478,61,5\rUA,10397,12478,70,1\n")


def test_line_numbers_stay_right_across_many_blocks(job, monkeypatch):
    monkeypatch.setattr(job, "CSV_BLOCK_BYTES", 4096)
    lines, bad = [HEADER], set()
    for i in range(2, 20000):
        if i % 997 == 0:
            lines.append(b"AA,10397")  # malformed: skipped by the parser itself
            bad.add(i)
        elif i % 1009 == 0:
            lines.append(b"AA,10397,12478,late,5")  # rejected by validation
            bad.add(i)
        else:
            lines.append(b"AA,10397,12478,%d,5" % (i % 200))
    counts, valid, rejected = scan(job, b"\n".join(lines) + b"\n")
    assert sorted(rejected.source_line.astype(int)) == sorted(bad)
    numbers = valid.source_line.to_numpy()
    assert numbers.tolist() == [i for i in range(2, 20000) if i not in bad]
    # Each valid row's delay is the one written on its line.
    assert (valid.dep_delay.to_numpy() == numbers % 200).all()


def test_object_keys_must_be_daily_files_under_the_raw_prefix(job):
    assert str(job.day_of_key("raw/flights/date=2013-01-02/flights.csv", "raw/flights/")) == "2013-01-02"
    for key in ("raw/flights/date=2013-13-02/flights.csv", "other/date=2013-01-02/flights.csv",
                "raw/flights/date=2013-01-02/other.csv", "raw/flights/2013-01-02/flights.csv"):
        with pytest.raises(job.JobFailed, match=re.escape(repr(key))):
            job.day_of_key(key, "raw/flights/")


def base_argv(**overrides: str) -> list[str]:
    values = {
        "raw_bucket": "flights-bucket", "catalog_database": "flights", "catalog_table": "flights",
        "redshift_cluster_id": "c1", "copy_role_arn": "arn:aws:iam::000000000000:role/copy",
        **overrides,
    }
    return [item for k, v in values.items() for item in (f"--{k}", v)]


def test_arguments_ignore_glue_extras_and_default_the_threshold(job):
    args = job.parse_args(base_argv() + ["--job-bookmark-option", "job-bookmark-disable", "--run_id", "exec-1"])
    assert args.min_dep_delay == 60 and args.run_id == "exec-1" and args.fault == "none"
    job.check_settings(args, "us-east-1")
    # Glue passes a Python shell job no --JOB_RUN_ID: without --run_id the run names itself.
    assert re.fullmatch(r"manual_[0-9a-f]{32}", job.parse_args(base_argv()).run_id)


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"copy_role_arn": "arn:aws:iam::000000000000:role/x' IAM_ROLE 'y"}, "--copy_role_arn"),
        ({"staging_prefix": "raw/flights/staging/"}, "overlaps"),
        ({"raw_bucket": "Bad_Bucket"}, "--raw_bucket"),
        ({"rejects_prefix": "rejects'/"}, "--rejects_prefix"),
    ],
)
def test_values_that_reach_sql_text_are_validated(job, overrides, words):
    with pytest.raises(job.JobFailed, match=re.escape(words)):
        job.check_settings(job.parse_args(base_argv(**overrides)), "us-east-1")


def test_the_load_batch_fills_only_validated_values_and_can_inject_a_failure(job):
    args = job.parse_args(base_argv(run_id="jr_9"))
    statements = job.load_batch(args)
    text = "\n".join(statements)
    assert "s3://flights-bucket/staging/flights/jr_9/flights/" in text and "{" not in text
    assert statements == job.sql.split_statements(
        re.sub(r"\{\w+\}", lambda m: {"{flights_path}": "s3://flights-bucket/staging/flights/jr_9/flights/",
                                       "{loads_path}": "s3://flights-bucket/staging/flights/jr_9/loads/",
                                       "{role_arn}": "arn:aws:iam::000000000000:role/copy"}[m.group(0)],
               (ROOT / "sql" / "load_days.sql").read_text()))
    # Redshift refuses REGION in a COPY from Parquet ("COPY from columnar data formats", usage notes).
    copies = [s for s in statements if s.startswith("COPY ")]
    assert len(copies) == 2 and all("FORMAT AS PARQUET" in s and "REGION" not in s for s in copies)
    failing = job.load_batch(job.parse_args(base_argv(run_id="jr_9", fault="fail_in_transaction")))
    assert failing[:-1] == statements and "fault injected" in failing[-1]


class FakeGlue:
    """GetJobRuns of a job with one run that carried the identity `jr_other` (None: Glue knows no such run)."""

    def __init__(self, state: str | None):
        self.state = state

    def get_paginator(self, name):
        assert name == "get_job_runs"
        return self

    def paginate(self, JobName):  # noqa: N803 - boto3's names
        if self.state == "job deleted":
            raise ClientError({"Error": {"Code": "EntityNotFoundException", "Message": "no"}}, "GetJobRuns")
        other = {"Id": "jr_0123", "JobRunState": "SUCCEEDED", "Arguments": {"--run_id": "exec-earlier"}}
        runs = [other] + ([{"Id": "jr_4567", "JobRunState": self.state, "Arguments": {"--run_id": "jr_other"}}]
                          if self.state else [])  # found on the second page
        return [{"JobRuns": runs[:1]}, {"JobRuns": runs[1:]}]


@pytest.mark.parametrize(
    "state, age, abandoned",
    [("RUNNING", 10**6, False), ("STARTING", 0, False), ("FAILED", 0, True), ("TIMEOUT", 0, True),
     ("STOPPED", 0, True), ("ERROR", 0, True), (None, 5, False), (None, 3000, True), ("job deleted", 5, False),
     ("job deleted", 3000, True)],
)
def test_a_claim_is_abandoned_only_when_its_run_has_ended(job, state, age, abandoned):
    args = SimpleNamespace(run_id="jr_me", claim_timeout_minutes=2880)
    owner = {"job_run_id": "jr_other", "job_name": "daily_flights_etl", "age_minutes": age}
    assert bool(job.claim_is_abandoned(FakeGlue(state), owner, args)) is abandoned


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


def test_a_day_with_rejected_rows_stages_and_writes_its_rejects_csv(job):
    """The rejects CSV is written with the pandas of the runtime the job runs on (Glue's is pandas 1.4)."""
    body = HEADER + b"\nAA,10397,12478,61,5\nAA,10397,12478,late,5\nUA,12478,13303,75,\nAA,10397\n"

    obj = job.SourceObject(bucket="flights-bucket", key="raw/flights/date=2013-01-02/flights.csv",
                           day=dt.date(2013, 1, 2), version_id="v1", etag="e", last_modified=dt.datetime(2013, 1, 2),
                           size=len(body))
    args = job.parse_args(base_argv(run_id="jr_7", max_reject_share="0.5"))
    s3 = FakeS3(body)
    staging = job.Staging(s3, args.raw_bucket, "staging/flights/jr_7/flights/")
    day = job.stage_day(s3, args, obj, "load-1", AIRPORT_IDS, staging)
    staging.finish()

    assert (day.counts.rows_read, day.counts.rows_rejected, day.rows_staged) == (4, 2, 2)
    key = "rejects/flights/date=2013-01-02/jr_7.csv"
    assert day.rejects_location == f"s3://flights-bucket/{key}"
    text = s3.uploads[key].decode()
    assert "\r" not in text
    rejects = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert sorted(rejects.source_line.tolist()) == ["3", "5"]
    assert list(rejects.columns) == job.REJECT_COLUMNS
    (staged_key,) = [k for k in s3.uploads if k.startswith("staging/")]
    rows = pq.read_table(pa.BufferReader(s3.uploads[staged_key])).to_pandas()
    assert rows.source_line.tolist() == [2, 4] and rows.dep_delay.tolist() == [61, 75]


def stage(job, body: bytes, **overrides: str):
    obj = job.SourceObject(bucket="flights-bucket", key="raw/flights/date=2013-01-02/flights.csv",
                           day=dt.date(2013, 1, 2), version_id="v1", etag="e", last_modified=dt.datetime(2013, 1, 2),
                           size=len(body))
    args = job.parse_args(base_argv(run_id="jr_8", **overrides))
    s3 = FakeS3(body)
    staging = job.Staging(s3, args.raw_bucket, "staging/flights/jr_8/flights/")
    return job.stage_day(s3, args, obj, "load-1", AIRPORT_IDS, staging), s3


@pytest.mark.parametrize("bad, refused", [(1, False), (2, True), (20, True)])
def test_a_day_whose_rejected_share_exceeds_the_threshold_is_refused(job, bad, refused):
    rows = [b"AA,10397,12478,61,5"] * (20 - bad) + [b"AA,10397,12478,late,5"] * bad  # 20 data lines
    body = HEADER + b"\n" + b"\n".join(rows) + b"\n"
    assert job.parse_args(base_argv()).max_reject_share == 0.05
    if not refused:  # 1 of 20 = 5 %: not more than the default
        day, _ = stage(job, body)
        assert (day.counts.rows_read, day.counts.rows_rejected) == (20, 1)
        return
    with pytest.raises(job.BadFile) as failure:
        stage(job, body)
    message = str(failure.value)
    assert f"{bad} of 20 data lines rejected ({bad / 20:.1%})" in message
    assert "--max_reject_share 0.05" in message and "rejects in s3://flights-bucket/rejects/" in message
    day, _ = stage(job, body, max_reject_share="1")  # the user may accept any share
    assert day.counts.rows_rejected == bad


def test_the_quote_and_share_settings_are_checked(job):
    with pytest.raises(SystemExit):
        job.parse_args(base_argv(multiline_quotes="ignore"))
    with pytest.raises(job.JobFailed, match="--max_reject_share"):
        job.check_settings(job.parse_args(base_argv(max_reject_share="5")), "us-east-1")
