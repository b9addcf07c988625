"""Redshift conformance: every case in cases_*.yaml run against a fresh local `Database`.

Each case names the AWS documentation page its expected answer comes from; the expectations were worked out from
those pages (or by hand from the documented rules), never taken from this emulator's output. A case the local
warehouse cannot answer as Redshift does carries `xfail: reason` and is listed in docs/fidelity.md.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
import io
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from flightpipe_local.redshift.database import Database
from flightpipe_local.redshift.errors import EngineError

HERE = Path(__file__).parent
DOCS = "https://docs.aws.amazon.com/redshift/latest/dg/{}.html"
FIXTURES = [
    # doc "Sample table for window function examples" (r_Window_function_examples): WINSALES.
    "CREATE TABLE winsales (salesid INT, dateid DATE, sellerid INT, buyerid CHAR(10), qty INT, qty_shipped INT)",
    "INSERT INTO winsales VALUES (30001, '2003-08-02', 3, 'b', 10, 10), (10001, '2003-12-24', 1, 'c', 10, 10), "
    "(10005, '2003-12-24', 1, 'a', 30, NULL), (40001, '2004-01-09', 4, 'a', 40, NULL), "
    "(10006, '2004-01-18', 1, 'c', 10, NULL), (20001, '2004-02-12', 2, 'b', 20, 20), "
    "(40005, '2004-02-12', 4, 'a', 10, 10), (20002, '2004-02-16', 2, 'c', 20, 20), "
    "(30003, '2004-04-18', 3, 'b', 15, NULL), (30004, '2004-04-18', 3, 'b', 20, NULL), "
    "(30007, '2004-09-07', 3, 'c', 30, NULL)",
    # Five departures shaped like the runbook's facts.
    "CREATE TABLE flights (carrier VARCHAR(10), dep_delay INTEGER, arr_delay INTEGER, flight_date DATE)",
    "INSERT INTO flights VALUES ('AA', 10, 5, '2024-01-01'), ('AA', 25, 30, '2024-01-01'), "
    "('DL', 3, -2, '2024-01-02'), ('DL', 60, 45, '2024-01-02'), ('UA', -5, NULL, '2024-01-03')",
]


def load_cases() -> list[dict]:
    cases = []
    for path in sorted(HERE.glob("cases_*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            case["file"] = path.name
            cases.append(case)
    return cases


CASES = load_cases()


class FakeS3:
    def __init__(self):
        self.objects: dict[tuple[str, str], bytes] = {}

    def read(self, bucket: str, prefix: str):
        return [(k, v) for (b, k), v in sorted(self.objects.items()) if b == bucket and k.startswith(prefix)]

    def write(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[(bucket, key)] = body

    def put(self, path: str, body: bytes) -> None:
        bucket, _, key = path.partition("/")
        self.objects[(bucket, key)] = body


def _parquet(columns: dict) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame(columns).to_parquet(buffer, index=False)
    return buffer.getvalue()


def normalise(value):
    """A result value in the YAML's terms: dates and timestamps as ISO text, decimals as floats."""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def same(got, want) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        return got is not None and want is not None and math.isclose(float(got), float(want), rel_tol=1e-9)
    return got == want


def assert_rows(got: list[tuple], want: list[list]) -> None:
    rows = [[normalise(v) for v in row] for row in got]
    assert len(rows) == len(want), f"rows: {rows} != {want}"
    for got_row, want_row in zip(rows, want, strict=True):
        assert len(got_row) == len(want_row) and all(map(same, got_row, want_row)), f"{got_row} != {want_row}"


@pytest.fixture
def s3():
    return FakeS3()


@pytest.fixture
def database(tmp_path, s3):
    db = Database(tmp_path / "dev.duckdb", s3_reader=s3.read, s3_writer=s3.write)
    db.execute_batch(FIXTURES)
    yield db
    db.close()


def _params(case):
    marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
    return pytest.param(case, id=f"{case['category']}:{case['id']}", marks=marks)


def test_cases_are_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids are unique"
    assert len(CASES) >= 150
    for case in CASES:
        title, page = case["doc"]
        assert title and re.fullmatch(r"[\w-]+", page), case["id"]
        assert any(k in case for k in ("rows", "error", "affected", "objects", "parquet_objects")), case["id"]


@pytest.mark.parametrize("case", [_params(c) for c in CASES])
def test_conformance(case, database, s3):
    """Doc page: https://docs.aws.amazon.com/redshift/latest/dg/<case doc page>.html"""
    for path, text in (case.get("s3") or {}).items():
        s3.put(path, text.encode())
    for path, text in (case.get("s3gz") or {}).items():
        s3.put(path, gzip.compress(text.encode()))
    for path, columns in (case.get("parquet") or {}).items():
        s3.put(path, _parquet(columns))
    if case.get("setup"):
        database.execute_batch(case["setup"])
    if "error" in case:
        with pytest.raises(EngineError) as failure:
            database.execute(case["sql"], case.get("params"))
        assert re.search(case["error"], str(failure.value)), str(failure.value)
        result = None
    else:
        result = database.execute(case["sql"], case.get("params"))
    if "then" in case:
        assert_rows(database.execute(case["then"]).rows, case["rows"])
    elif "rows" in case:
        assert_rows(result.rows, case["rows"])
    if "columns" in case:
        assert result.columns == case["columns"]
    if "types" in case:
        assert result.type_names == case["types"]
    if "affected" in case:
        assert result.rows_affected == case["affected"]
    for path, text in (case.get("objects") or {}).items():
        bucket, _, key = path.partition("/")
        assert s3.objects.get((bucket, key), b"").decode() == text, sorted(s3.objects)
    for path, columns in (case.get("parquet_objects") or {}).items():
        bucket, _, key = path.partition("/")
        frame = pd.read_parquet(io.BytesIO(s3.objects[(bucket, key)]))
        assert frame.to_dict("list") == columns
