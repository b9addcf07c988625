"""The load transaction's statements: only validated values formatted into sql/load_days.sql.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import re

import pytest
from job_inputs import ROOT, base_argv

from flightpipe_job import sql
from flightpipe_job.errors import JobFailed
from flightpipe_job.loading import ledger_query, load_batch
from flightpipe_job.settings import parse_args


def test_the_load_batch_fills_only_validated_values_and_can_inject_a_failure():
    args = parse_args(base_argv(run_id="jr_9"))
    *statements, ledger = load_batch(args)
    text = "\n".join(statements)
    assert "s3://flights-bucket/staging/flights/jr_9/flights/" in text and "{" not in text
    # The batch ends with the run's ledger rows: sql/ledger_for_run.sql with the (validated) run id written in.
    assert ledger == (ROOT / "glue_job" / "flightpipe_job" / "sql" / "ledger_for_run.sql").read_text().replace(
        ":job_run_id", "'jr_9'")
    assert statements == sql.split_statements(
        re.sub(r"\{\w+\}", lambda m: {"{flights_path}": "s3://flights-bucket/staging/flights/jr_9/flights/",
                                       "{loads_path}": "s3://flights-bucket/staging/flights/jr_9/loads/",
                                       "{role_arn}": "arn:aws:iam::000000000000:role/copy"}[m.group(0)],
               (ROOT / "sql" / "load_days.sql").read_text()))
    # Redshift refuses REGION in a COPY from Parquet ("COPY from columnar data formats", usage notes).
    copies = [s for s in statements if s.startswith("COPY ")]
    assert len(copies) == 2 and all("FORMAT AS PARQUET" in s and "REGION" not in s for s in copies)
    failing = load_batch(parse_args(base_argv(run_id="jr_9", fault="fail_in_transaction")))
    assert failing[:-2] == statements and "fault injected" in failing[-2] and failing[-1] == ledger


def test_a_run_id_that_could_carry_sql_is_not_formatted_into_the_ledger_query():
    args = parse_args(base_argv(run_id="jr_9"))
    args.run_id = "jr_9'; DROP TABLE airlines.load_ledger; --"  # past check_settings: refused here too
    with pytest.raises(JobFailed, match="refusing to format run_id"):
        ledger_query(args)
    with pytest.raises(JobFailed, match="refusing to format flights_path"):  # its staging paths hold it too
        load_batch(args)
