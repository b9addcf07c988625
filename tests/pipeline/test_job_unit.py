"""The Glue job's parsing, validation and whole-file checks on in-memory data (no stack)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pytest
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
AIRPORT_IDS = pa.array([10397, 12478, 13303], pa.int64())
HEADER = b"Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay"


def scan(job, data: bytes, min_dep_delay: int = 60):
    """Run the job's whole-file check and row validation over `data`; return (counts, valid, rejected)."""
    order = job.column_order(data[: job.HEADER_PEEK_BYTES], "s3://bucket/key")
    valid, rejected = [], []
    counts = job.scan_file(pa.PythonFile(io.BytesIO(data), mode="r"), order, AIRPORT_IDS, min_dep_delay,
                           valid.append, rejected.append)
    valid = pa.concat_tables(valid).to_pandas() if valid else pd.DataFrame()
    rejected = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=job.REJECT_COLUMNS)
    return counts, valid, rejected


def test_embedded_sql_is_the_sql_folder(job):
    for name, text in job.SQL.items():
        assert text == (ROOT / "sql" / name).read_text(), name


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
    got = dict(zip(rejected.source_line.astype(int), rejected.reason, strict=True))
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


def test_blank_lines_and_quoted_newlines_keep_line_numbers_right(job):
    data = HEADER + b'\r\n\r\nAA,10397,12478,61,5\r\n"A\nA",10397,12478,61,5\r\n   \r\nUA,10397,12478,70,1\r\n'
    counts, valid, rejected = scan(job, data)
    assert counts.rows_read == 3  # blank lines are not records
    assert valid.source_line.tolist() == [3, 6]
    assert rejected.source_line.tolist() == [4]


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
    args = job.parse_args(base_argv() + ["--job-bookmark-option", "job-bookmark-disable", "--JOB_RUN_ID", "jr_1"])
    assert args.min_dep_delay == 60 and args.JOB_RUN_ID == "jr_1" and args.fault == "none"
    job.check_settings(args, "us-east-1")


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
    args = job.parse_args(base_argv(JOB_RUN_ID="jr_9"))
    statements = job.load_batch(args, "us-east-1")
    text = "\n".join(statements)
    assert "s3://flights-bucket/staging/flights/jr_9/flights/" in text and "{" not in text
    assert statements == job.split_statements(
        re.sub(r"\{\w+\}", lambda m: {"{flights_path}": "s3://flights-bucket/staging/flights/jr_9/flights/",
                                       "{loads_path}": "s3://flights-bucket/staging/flights/jr_9/loads/",
                                       "{role_arn}": "arn:aws:iam::000000000000:role/copy",
                                       "{region}": "us-east-1"}[m.group(0)],
               (ROOT / "sql" / "load_days.sql").read_text()))
    failing = job.load_batch(job.parse_args(base_argv(JOB_RUN_ID="jr_9", fault="fail_in_transaction")), "us-east-1")
    assert failing[:-1] == statements and "fault injected" in failing[-1]


class FakeGlue:
    def __init__(self, state: str | None):
        self.state = state

    def get_job_run(self, JobName, RunId, PredecessorsIncluded):  # noqa: N803 - boto3's names
        if self.state is None:
            raise ClientError({"Error": {"Code": "EntityNotFoundException", "Message": "no"}}, "GetJobRun")
        return {"JobRun": {"JobRunState": self.state}}


@pytest.mark.parametrize(
    "state, age, abandoned",
    [("RUNNING", 10**6, False), ("STARTING", 0, False), ("FAILED", 0, True), ("TIMEOUT", 0, True),
     ("STOPPED", 0, True), ("ERROR", 0, True), (None, 5, False), (None, 3000, True)],
)
def test_a_claim_is_abandoned_only_when_its_run_has_ended(job, state, age, abandoned):
    args = SimpleNamespace(JOB_RUN_ID="jr_me", claim_timeout_minutes=2880)
    owner = {"job_run_id": "jr_other", "job_name": "daily_flights_etl", "age_minutes": age}
    assert bool(job.claim_is_abandoned(FakeGlue(state), owner, args)) is abandoned
