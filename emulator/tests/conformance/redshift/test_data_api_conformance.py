"""A few conformance cases through the Redshift Data API of the local stack (boto3), checking what a client sees:
column names and type names in ColumnMetadata and the JSON field of each value.

Sources: doc "GetStatementResult" (Redshift Data API reference: Field is one of longValue, doubleValue,
stringValue, booleanValue, isNull), doc "Names and identifiers" (folded names), doc "AVG function" (BIGINT),
doc "MEDIAN function" (DECIMAL), doc "DATE_PART function" (DOUBLE PRECISION).
"""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
from data_api_support import DONE, cluster_data_api

CLUSTER = "conformance-cluster"


@pytest.fixture(scope="module")
def rd(local_stack):
    return cluster_data_api(CLUSTER)


def run(rd, sql: str) -> tuple[dict, dict | None]:
    database = f"conf_{uuid.uuid4().hex[:8]}"
    statement = rd.execute_statement(ClusterIdentifier=CLUSTER, Database=database, Sql=sql)["Id"]
    deadline = time.monotonic() + 30
    while (described := rd.describe_statement(Id=statement))["Status"] not in DONE:
        assert time.monotonic() < deadline, described
        time.sleep(0.02)
    if described["Status"] != "FINISHED" or not described.get("HasResultSet"):
        return described, None
    return described, rd.get_statement_result(Id=statement)


VALUES = "(SELECT 1 AS x UNION ALL SELECT 2 UNION ALL SELECT 4)"
CASES = [
    # (sql, column names, type names, first record)
    (f"SELECT AVG(x) AS MeanDelay FROM {VALUES}", ["meandelay"], ["int8"], [{"longValue": 2}]),
    (f"SELECT COUNT(*) FROM {VALUES}", ["count"], ["int8"], [{"longValue": 3}]),
    ("CREATE TABLE v (x INT); INSERT INTO v VALUES (1), (2), (4); SELECT MEDIAN(x) AS m FROM v", ["m"], ["numeric"],
     [{"stringValue": "2.0"}]),
    ("SELECT DATE_PART(month, DATE '2024-03-05')", ["pgdate_part"], ["float8"], [{"doubleValue": 3.0}]),
    ("SELECT 7/2 AS q, CONCAT('a', NULL) AS c", ["q", "c"], ["int4", "varchar"], [{"longValue": 3}, {"isNull": True}]),
    ("SELECT TRUNC(TIMESTAMP '2011-07-21 10:32:38') AS d", ["d"], ["date"], [{"stringValue": "2011-07-21"}]),
]


@pytest.mark.parametrize(("sql", "names", "types", "record"), CASES, ids=[c[0][:40] for c in CASES])
def test_values_through_the_data_api(rd, sql, names, types, record):
    described, result = run(rd, sql)
    assert described["Status"] == "FINISHED", described.get("Error")
    assert [c["name"] for c in result["ColumnMetadata"]] == names
    assert [c["typeName"] for c in result["ColumnMetadata"]] == types
    assert result["Records"][0] == record


def test_errors_are_redshift_words_without_escape_codes(rd):
    described, _ = run(rd, "SELECT * FROM no_such_table")
    assert described["Status"] == "FAILED"
    assert 'relation "no_such_table" does not exist' in described["Error"]
    assert "\x1b" not in described["Error"]


def test_unload_writes_to_the_local_s3(rd):
    """doc "UNLOAD": PARALLEL OFF writes <prefix>000; CSV with HEADER; ResultRows counts the rows unloaded."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="conformance-unload")
    described, _ = run(rd, "UNLOAD ('SELECT 1 AS a UNION ALL SELECT 2 ORDER BY 1') TO 's3://conformance-unload/out_' "
                           "IAM_ROLE default CSV HEADER PARALLEL OFF")
    assert described["Status"] == "FINISHED", described.get("Error")
    body = s3.get_object(Bucket="conformance-unload", Key="out_000")["Body"].read().decode()
    assert body == "a\n1\n2\n"
