"""The load transaction's statements: only validated values formatted into sql/load_days.sql.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import re

from job_inputs import ROOT, base_argv

from flightpipe_job import sql
from flightpipe_job.loading import load_batch
from flightpipe_job.settings import parse_args


def test_the_load_batch_fills_only_validated_values_and_can_inject_a_failure():
    args = parse_args(base_argv(run_id="jr_9"))
    statements = load_batch(args)
    text = "\n".join(statements)
    assert "s3://flights-bucket/staging/flights/jr_9/flights/" in text and "{" not in text
    assert statements == sql.split_statements(
        re.sub(r"\{\w+\}", lambda m: {"{flights_path}": "s3://flights-bucket/staging/flights/jr_9/flights/",
                                       "{loads_path}": "s3://flights-bucket/staging/flights/jr_9/loads/",
                                       "{role_arn}": "arn:aws:iam::000000000000:role/copy"}[m.group(0)],
               (ROOT / "sql" / "load_days.sql").read_text()))
    # Redshift refuses REGION in a COPY from Parquet ("COPY from columnar data formats", usage notes).
    copies = [s for s in statements if s.startswith("COPY ")]
    assert len(copies) == 2 and all("FORMAT AS PARQUET" in s and "REGION" not in s for s in copies)
    failing = load_batch(parse_args(base_argv(run_id="jr_9", fault="fail_in_transaction")))
    assert failing[:-1] == statements and "fault injected" in failing[-1]
