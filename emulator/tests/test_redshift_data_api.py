"""The Redshift Data API of the local stack, used the way pipeline code uses it: boto3 and awswrangler."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path

import awswrangler as wr
import boto3
import pandas as pd
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from data_api_support import cluster_data_api, wait

from flightpipe_local.redshift import data_api

DATA = Path(__file__).resolve().parents[2] / "data"  # the repository's airports and sample days
CLUSTER = "rsdata-cluster"
BUCKET = "rsdata-test-bucket"
# Numbers 0..99999 in plain Redshift SQL (no engine-specific series functions).
DIGITS = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(10))
NUMBERS = (
    f"WITH d AS ({DIGITS}), numbers AS (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 10000 * f.n AS id "
    "FROM d a CROSS JOIN d b CROSS JOIN d c CROSS JOIN d e CROSS JOIN d f)"
)


@pytest.fixture(scope="module")
def rd(local_stack):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return cluster_data_api(CLUSTER)


@pytest.fixture(scope="module")
def secret_arn(rd):
    return boto3.client("secretsmanager").create_secret(
        Name="rsdata-test-secret", SecretString='{"username": "admin", "password": "placeholder"}'
    )["ARN"]


@pytest.fixture
def db():
    """A database of its own for each test: a fresh warehouse file."""
    return f"db_{uuid.uuid4().hex[:8]}"


def run(rd, db: str, sql: str, **kwargs) -> dict:
    return wait(rd, rd.execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sql=sql, **kwargs)["Id"])


def run_ok(rd, db: str, sql: str, **kwargs) -> dict:
    described = run(rd, db, sql, **kwargs)
    assert described["Status"] == "FINISHED", described.get("Error")
    return described


def batch(rd, db: str, sqls: list[str]) -> dict:
    return wait(rd, rd.batch_execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sqls=sqls)["Id"])


def query(db: str, sql: str, **kwargs) -> pd.DataFrame:
    con = wr.data_api.redshift.connect(cluster_id=CLUSTER, database=db, **kwargs)
    return wr.data_api.redshift.read_sql_query(sql, con)


def test_seed_ddl_and_copy_load_exactly_the_csv(rd, db, secret_arn):
    boto3.client("s3").upload_file(str(DATA / "airports.csv"), BUCKET, "dim/airports.csv")
    run_ok(rd, db, "CREATE SCHEMA IF NOT EXISTS airlines; CREATE TABLE airlines.airports_dim (airport_id BIGINT, "
                   "city VARCHAR(100), state VARCHAR(100), name VARCHAR(200));", SecretArn=secret_arn)
    copied = run_ok(
        rd, db,
        f"COPY airlines.airports_dim FROM 's3://{BUCKET}/dim/airports.csv' IAM_ROLE "
        "'arn:aws:iam::000000000000:role/redshift-copy' DELIMITER ',' IGNOREHEADER 1 REGION 'us-east-1';",
    )
    expected = pd.read_csv(DATA / "airports.csv", keep_default_na=False)
    assert copied["ResultRows"] == len(expected)
    table = query(db, "SELECT * FROM airlines.airports_dim ORDER BY airport_id", secret_arn=secret_arn)
    assert str(table["airport_id"].dtype) == "int64"
    pd.testing.assert_frame_equal(
        table, expected.sort_values("airport_id").reset_index(drop=True), check_dtype=False
    )


def test_failed_batch_leaves_nothing_and_names_the_failing_statement(rd, db):
    run_ok(rd, db, "CREATE TABLE existing (a INT)")
    described = batch(rd, db, [
        "CREATE TABLE created_in_batch (a INT)",
        "INSERT INTO existing VALUES (1), (2)",
        "INSERT INTO no_such_table VALUES (1)",
    ])
    assert described["Status"] == "FAILED"
    assert "no_such_table" in described["Error"]
    subs = described["SubStatements"]
    assert [s["Id"] for s in subs] == [f"{described['Id']}:{n}" for n in (1, 2, 3)]
    assert subs[2]["Status"] == "FAILED" and "no_such_table" in subs[2]["Error"]
    left = query(db, "SELECT table_name FROM information_schema.tables WHERE table_name = 'created_in_batch'")
    assert left.empty
    assert query(db, "SELECT count(*) AS n FROM existing")["n"].tolist() == [0]


def test_batch_sub_statement_results_are_readable(rd, db):
    described = batch(rd, db, ["CREATE TABLE t (a INT)", "INSERT INTO t VALUES (3), (4)", "SELECT sum(a) FROM t"])
    assert described["Status"] == "FINISHED" and described["HasResultSet"]
    assert described["SubStatements"][1]["ResultRows"] == 2
    third = rd.get_statement_result(Id=f"{described['Id']}:3")
    assert third["ColumnMetadata"][0]["name"] == "sum"
    assert third["Records"] == [[{"longValue": 7}]]
    with pytest.raises(ClientError, match="ValidationException"):
        rd.get_statement_result(Id=f"{described['Id']}:1")  # a CREATE has no result set


def test_result_typing_and_paging(rd, db):
    rows = 12_345
    described = run_ok(rd, db, f"""{NUMBERS}
        SELECT id::BIGINT AS id, id / 4.0::FLOAT8 AS quarter, 'row-' || id AS label, id % 2 = 0 AS even,
               '2024-01-01'::DATE AS day, '2024-01-01 10:11:12'::TIMESTAMP AS ts,
               CASE WHEN id % 7 = 0 THEN NULL ELSE id END AS maybe
        FROM numbers WHERE id < {rows} ORDER BY id""")
    assert described["HasResultSet"] and described["ResultRows"] == rows
    pages, records, token = 0, [], None
    while True:
        page = rd.get_statement_result(Id=described["Id"], **({"NextToken": token} if token else {}))
        pages += 1
        records += page["Records"]
        assert page["TotalNumRows"] == rows
        token = page.get("NextToken")
        if not token:
            break
    assert pages == -(-rows // data_api.PAGE_SIZE) and pages > 1
    assert [r[0]["longValue"] for r in records] == list(range(rows))  # every row once, in order
    meta = page["ColumnMetadata"]
    assert [c["typeName"] for c in meta] == ["int8", "float8", "varchar", "bool", "date", "timestamp", "int4"]
    assert records[21] == [
        {"longValue": 21}, {"doubleValue": 21 / 4}, {"stringValue": "row-21"}, {"booleanValue": False},
        {"stringValue": "2024-01-01"}, {"stringValue": "2024-01-01 10:11:12"}, {"isNull": True},
    ]
    frame = query(db, f"{NUMBERS} SELECT id::BIGINT AS id, id / 4.0::FLOAT8 AS quarter, id % 2 = 0 AS even "
                      "FROM numbers WHERE id < 20000")
    assert [str(t) for t in frame.dtypes] == ["int64", "float64", "bool"]
    assert sorted(frame["id"]) == list(range(20_000))


def test_parameters_are_bound_as_data(rd, db):
    run_ok(rd, db, "CREATE TABLE t (id BIGINT, note VARCHAR(100))")
    evil = "x'; DROP TABLE t; --"
    run_ok(rd, db, "INSERT INTO t VALUES (:id, :note)",
           Parameters=[{"name": "id", "value": "5"}, {"name": "note", "value": evil}])
    found = query(db, "SELECT id, note FROM t")
    assert found.values.tolist() == [[5, evil]]
    failed = run(rd, db, "SELECT * FROM t WHERE id = :other", Parameters=[{"name": "id", "value": "5"}])
    assert failed["Status"] == "FAILED" and ":other" in failed["Error"]


def test_unknown_cluster_and_secret_are_rejected(rd, db):
    with pytest.raises(ClientError) as unknown:
        rd.execute_statement(ClusterIdentifier="no-such-cluster", Database=db, Sql="SELECT 1")
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError, match="ValidationException"):
        rd.execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sql="SELECT 1",
                             SecretArn="arn:aws:secretsmanager:us-east-1:000000000000:secret:none-AbCdEf")
    with pytest.raises(ClientError, match="ValidationException"):
        rd.execute_statement(Database=db, Sql="SELECT 1")  # neither cluster nor workgroup


def test_bad_sql_fails_with_the_engine_message(rd, db):
    failed = run(rd, db, "SELECT * FROM missing_relation")
    assert failed["Status"] == "FAILED"
    assert "missing_relation" in failed["Error"]


def test_workgroup_with_awswrangler(rd, db):
    con = wr.data_api.redshift.connect(workgroup_name="any-workgroup", database=db)
    frame = wr.data_api.redshift.read_sql_query("SELECT 1 AS one, 'a' AS letter", con)
    assert frame.to_dict("records") == [{"one": 1, "letter": "a"}]


def test_parquet_copy_redshift_ddl_and_dml(rd, db):
    s3 = boto3.client("s3")
    parts = [
        pd.DataFrame({"carrier": ["AA", "DL", "AA"], "origin": [10165, 10299, 10299], "dep_delay": [5, None, 60]}),
        pd.DataFrame({"carrier": ["UA"], "origin": [10165], "dep_delay": [-2]}),
    ]
    for number, part in enumerate(parts):
        buffer = io.BytesIO()
        part.astype({"dep_delay": "Int64"}).to_parquet(buffer, index=False)
        s3.put_object(Bucket=BUCKET, Key=f"{db}/stage/part-{number}.parquet", Body=buffer.getvalue())
    described = batch(rd, db, [
        "CREATE TABLE stage (carrier VARCHAR(3) ENCODE lzo, origin BIGINT, dep_delay BIGINT) "
        "DISTSTYLE KEY DISTKEY(origin) COMPOUND SORTKEY(carrier, origin)",
        f"COPY stage FROM 's3://{BUCKET}/{db}/stage/' IAM_ROLE default FORMAT AS PARQUET",
        "CREATE TABLE cities (id BIGINT, city VARCHAR(20)) DISTSTYLE ALL",
        "INSERT INTO cities VALUES (10165, 'Adak'), (10299, 'Anchorage')",
        "DELETE FROM stage USING cities WHERE stage.origin = cities.id AND cities.city = 'Adak' "
        "AND stage.carrier = 'UA'",
        "UPDATE stage SET dep_delay = 0 FROM cities WHERE stage.origin = cities.id AND stage.dep_delay IS NULL",
        "SELECT carrier, LISTAGG(DISTINCT city, '|') WITHIN GROUP (ORDER BY city) AS cities, SUM(dep_delay) AS d "
        "FROM stage JOIN cities ON stage.origin = cities.id GROUP BY carrier ORDER BY carrier",
    ])
    assert described["Status"] == "FINISHED", described.get("Error")
    assert described["SubStatements"][1]["ResultRows"] == sum(len(p) for p in parts)
    # The same steps in pandas.
    cities = pd.DataFrame({"origin": [10165, 10299], "city": ["Adak", "Anchorage"]})
    stage = pd.concat(parts).merge(cities, on="origin")
    stage = stage[~((stage.city == "Adak") & (stage.carrier == "UA"))].fillna({"dep_delay": 0})
    want = [
        [{"stringValue": carrier}, {"stringValue": "|".join(sorted(set(g.city)))},
         {"longValue": int(g.dep_delay.sum())}]
        for carrier, g in stage.groupby("carrier")
    ]
    assert rd.get_statement_result(Id=f"{described['Id']}:7")["Records"] == want


def test_offline_switch_makes_the_service_unavailable(rd, db, local_stack):
    flag = local_stack.ctx.state_dir / data_api.OFFLINE_FLAG
    impatient = boto3.client("redshift-data", config=Config(retries={"total_max_attempts": 1}))
    flag.touch()
    try:
        with pytest.raises(ClientError) as unavailable:
            impatient.execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sql="SELECT 1")
        assert unavailable.value.response["Error"]["Code"] == "InternalServerException"
        assert unavailable.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        with pytest.raises(ClientError, match="InternalServerException"):
            impatient.batch_execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sqls=["SELECT 1"])
    finally:
        flag.unlink()
    assert run(rd, db, "SELECT 1")["Status"] == "FINISHED"


def test_cancel_running_and_queued_statements(rd, db):
    endless = f"{NUMBERS} SELECT sum(a.id::BIGINT + b.id) FROM numbers a CROSS JOIN numbers b"  # 10^10 rows
    running = rd.execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sql=endless)["Id"]
    queued = rd.execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sql="CREATE TABLE never_made (a INT)")["Id"]
    deadline = time.monotonic() + 10
    while (status := rd.describe_statement(Id=running)["Status"]) in ("SUBMITTED", "PICKED"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert status == "STARTED"
    assert rd.describe_statement(Id=queued)["Status"] == "SUBMITTED"
    assert rd.cancel_statement(Id=queued)["Status"] is True
    assert rd.cancel_statement(Id=running)["Status"] is True
    assert wait(rd, running)["Status"] == "ABORTED"
    assert wait(rd, queued)["Status"] == "ABORTED"
    assert query(db, "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'never_made'")[
        "n"].tolist() == [0]
    with pytest.raises(ClientError, match="ValidationException"):
        rd.cancel_statement(Id=queued)


def test_list_statements_by_name(rd, db):
    name = f"nightly-{db}"
    ids = {run_ok(rd, db, "SELECT 1", StatementName=name)["Id"] for _ in range(2)}
    listed = rd.list_statements(StatementName=name, Status="FINISHED")["Statements"]
    assert {s["Id"] for s in listed} == ids
    assert all(s["QueryString"] == "SELECT 1" and not s["IsBatchStatement"] for s in listed)


def test_each_cluster_has_its_own_databases_and_deleting_it_deletes_them(rd):
    redshift = boto3.client("redshift")
    other = f"rsdata-{uuid.uuid4().hex[:6]}"
    redshift.create_cluster(ClusterIdentifier=other, NodeType="ra3.xlplus", MasterUsername="admin",
                            MasterUserPassword="Placeholder1", DBName="dev")

    def rows_on(cluster: str) -> list:
        statement = wait(rd, rd.execute_statement(
            ClusterIdentifier=cluster, Database="shared_name", Sql="SELECT n FROM t ORDER BY n")["Id"])
        if statement["Status"] != "FINISHED":
            return statement["Error"]
        return [r[0]["longValue"] for r in rd.get_statement_result(Id=statement["Id"])["Records"]]

    for cluster, n in ((CLUSTER, 1), (other, 2)):
        done = wait(rd, rd.batch_execute_statement(ClusterIdentifier=cluster, Database="shared_name", Sqls=[
            "CREATE TABLE IF NOT EXISTS t (n BIGINT)", "DELETE FROM t", f"INSERT INTO t VALUES ({n})"])["Id"])
        assert done["Status"] == "FINISHED", done.get("Error")
    assert rows_on(CLUSTER) == [1] and rows_on(other) == [2]

    redshift.delete_cluster(ClusterIdentifier=other, SkipFinalClusterSnapshot=True)
    redshift.create_cluster(ClusterIdentifier=other, NodeType="ra3.xlplus", MasterUsername="admin",
                            MasterUserPassword="Placeholder1", DBName="dev")
    assert "t" in rows_on(other) and "does not exist" in rows_on(other)  # a new cluster starts empty
    assert rows_on(CLUSTER) == [1]
