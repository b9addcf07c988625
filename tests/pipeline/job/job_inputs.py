"""In-memory inputs for the job's unit tests (no stack), and the whole-file scan they share.

Imported by name from this folder (pytest puts it on the path), so the tests also run on Glue's runtime with no
conftest."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pyarrow as pa

from flightpipe_job.reading import HEADER_PEEK_BYTES, column_order
from flightpipe_job.validation import REJECT_COLUMNS, scan_file

ROOT = Path(__file__).resolve().parents[3]
AIRPORT_IDS = pa.array([10397, 12478, 13303], pa.int64())
HEADER = b"Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay"


def scan(data: bytes, min_dep_delay: int = 60, multiline_quotes: str = "refuse"):
    """Run the job's whole-file check and row validation over `data`; return (counts, valid, rejected)."""
    order = column_order(data[: HEADER_PEEK_BYTES], "s3://bucket/key")
    valid, rejected = [], []
    counts = scan_file(io.BytesIO(data), order, AIRPORT_IDS, min_dep_delay, valid.append, rejected.append,
                       "s3://bucket/key", multiline_quotes)
    valid = pa.concat_tables(valid).to_pandas() if valid else pd.DataFrame()
    rejected = pd.concat(rejected, ignore_index=True) if rejected else pd.DataFrame(columns=REJECT_COLUMNS)
    return counts, valid, rejected


def base_argv(**overrides: str) -> list[str]:
    values = {
        "raw_bucket": "flights-bucket", "catalog_database": "flights", "catalog_table": "flights",
        "redshift_cluster_id": "c1", "copy_role_arn": "arn:aws:iam::000000000000:role/copy",
        **overrides,
    }
    return [item for k, v in values.items() for item in (f"--{k}", v)]
