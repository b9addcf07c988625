"""The job's arguments and the checks of every value that reaches SQL text or S3.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import re

import pytest
from job_inputs import base_argv

from flightpipe_job.errors import JobFailed
from flightpipe_job.settings import check_settings, day_of_key, parse_args


def test_object_keys_must_be_daily_files_under_the_raw_prefix():
    assert str(day_of_key("raw/flights/date=2013-01-02/flights.csv", "raw/flights/")) == "2013-01-02"
    for key in ("raw/flights/date=2013-13-02/flights.csv", "other/date=2013-01-02/flights.csv",
                "raw/flights/date=2013-01-02/other.csv", "raw/flights/2013-01-02/flights.csv"):
        with pytest.raises(JobFailed, match=re.escape(repr(key))):
            day_of_key(key, "raw/flights/")


def test_arguments_ignore_glue_extras_and_default_the_threshold():
    args = parse_args(base_argv() + ["--job-bookmark-option", "job-bookmark-disable", "--run_id", "exec-1"])
    assert args.min_dep_delay == 60 and args.run_id == "exec-1" and args.fault == "none"
    check_settings(args, "us-east-1")
    # Glue passes a Python shell job no --JOB_RUN_ID: without --run_id the run names itself.
    assert re.fullmatch(r"manual_[0-9a-f]{32}", parse_args(base_argv()).run_id)


@pytest.mark.parametrize(
    "overrides, words",
    [
        ({"copy_role_arn": "arn:aws:iam::000000000000:role/x' IAM_ROLE 'y"}, "--copy_role_arn"),
        ({"staging_prefix": "raw/flights/staging/"}, "overlaps"),
        ({"raw_bucket": "Bad_Bucket"}, "--raw_bucket"),
        ({"rejects_prefix": "rejects'/"}, "--rejects_prefix"),
    ],
)
def test_values_that_reach_sql_text_are_validated(overrides, words):
    with pytest.raises(JobFailed, match=re.escape(words)):
        check_settings(parse_args(base_argv(**overrides)), "us-east-1")


def test_the_quote_and_share_settings_are_checked():
    with pytest.raises(SystemExit):
        parse_args(base_argv(multiline_quotes="ignore"))
    with pytest.raises(JobFailed, match="--max_reject_share"):
        check_settings(parse_args(base_argv(max_reject_share="5")), "us-east-1")
