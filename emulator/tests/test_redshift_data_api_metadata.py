"""ListDatabases, ListSchemas, ListTables and DescribeTable of the local Data API, used as boto3 users do.

Expected values come from the Amazon Redshift Data API Reference (the actions, TableMember, ColumnMetadata,
PageSize), the Redshift Management Guide's "Describe a table" example (length and precision are the column
size) and the Redshift Database Developer Guide's data types (BIGINT is int8, INTEGER int4, DOUBLE PRECISION
float8, BOOLEAN bool, DECIMAL numeric(p, s), VARCHAR(n) varchar of length n).
"""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from data_api_support import DONE, cluster_data_api

CLUSTER = "rsdata-metadata"
DDL = [
    "CREATE SCHEMA airlines",
    "CREATE SCHEMA air_staging",
    "CREATE TABLE airlines.daily_flights_fact (flight_day DATE NOT NULL, carrier VARCHAR(3), "
    "dep_delay BIGINT, arr_delay INTEGER DEFAULT 0, ratio DOUBLE PRECISION, amount DECIMAL(12,2), "
    "is_late BOOLEAN, loaded_at TIMESTAMP)",
    "CREATE TABLE airlines.airports_dim (airport_id BIGINT, name VARCHAR(200))",
    "CREATE TABLE air_staging.flights (carrier VARCHAR(3))",
    "CREATE TABLE public.notes (note VARCHAR(50))",
    "CREATE VIEW airlines.late_flights AS SELECT * FROM airlines.daily_flights_fact WHERE is_late",
]


@pytest.fixture(scope="module")
def rd(local_stack):
    return cluster_data_api(CLUSTER, "analytics")


@pytest.fixture(scope="module")
def db(rd):
    """One database with two schemas of tables and a view."""
    name = f"meta_{uuid.uuid4().hex[:8]}"
    statement = rd.batch_execute_statement(ClusterIdentifier=CLUSTER, Database=name, Sqls=DDL)["Id"]
    deadline = time.monotonic() + 30
    while (described := rd.describe_statement(Id=statement))["Status"] not in DONE:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert described["Status"] == "FINISHED", described.get("Error")
    return name


def where(db: str) -> dict:
    return {"ClusterIdentifier": CLUSTER, "Database": db}


def code_of(call, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"]


def test_list_databases_names_the_cluster_database_and_those_in_use(rd, db):
    databases = rd.list_databases(ClusterIdentifier=CLUSTER, Database="analytics")["Databases"]
    assert "analytics" in databases and db in databases  # DBName of CreateCluster, and the one the DDL made
    assert databases == sorted(databases)
    first = rd.list_databases(ClusterIdentifier=CLUSTER, MaxResults=1)
    assert len(first["Databases"]) == 1 and first["NextToken"]
    everything = [d for page in rd.get_paginator("list_databases").paginate(
        ClusterIdentifier=CLUSTER, PaginationConfig={"PageSize": 1}) for d in page["Databases"]]
    assert everything == databases


def test_list_schemas_with_and_without_a_pattern(rd, db):
    schemas = rd.list_schemas(**where(db))["Schemas"]
    assert {"airlines", "air_staging", "public", "information_schema", "pg_catalog"} <= set(schemas)
    assert "main" not in schemas  # the engine's own schema is not a Redshift schema
    assert rd.list_schemas(**where(db), SchemaPattern="air%")["Schemas"] == ["air_staging", "airlines"]
    assert rd.list_schemas(**where(db), SchemaPattern="airline_")["Schemas"] == ["airlines"]
    assert rd.list_schemas(**where(db), SchemaPattern="nothing%")["Schemas"] == []


def test_list_tables_by_schema_and_table_pattern_with_their_types(rd, db):
    tables = rd.list_tables(**where(db), SchemaPattern="airlines")["Tables"]
    assert tables == [
        {"name": "airports_dim", "schema": "airlines", "type": "TABLE"},
        {"name": "daily_flights_fact", "schema": "airlines", "type": "TABLE"},
        {"name": "late_flights", "schema": "airlines", "type": "VIEW"},
    ]
    flights = rd.list_tables(**where(db), TablePattern="%flights%")["Tables"]
    assert [(t["schema"], t["name"]) for t in flights] == [
        ("air_staging", "flights"), ("airlines", "daily_flights_fact"), ("airlines", "late_flights")]
    everything = rd.list_tables(**where(db))["Tables"]
    assert {(t["schema"], t["name"]) for t in everything} == {
        ("airlines", "daily_flights_fact"), ("airlines", "airports_dim"), ("airlines", "late_flights"),
        ("air_staging", "flights"), ("public", "notes")}


def test_list_tables_pages(rd, db):
    first = rd.list_tables(**where(db), MaxResults=2)
    assert len(first["Tables"]) == 2 and first["NextToken"]
    paged = [t for page in rd.get_paginator("list_tables").paginate(
        **where(db), PaginationConfig={"PageSize": 2}) for t in page["Tables"]]
    assert paged == rd.list_tables(**where(db))["Tables"]


def test_describe_table_reports_redshift_types_nullability_and_numeric_sizes(rd, db):
    described = rd.describe_table(**where(db), Schema="airlines", Table="daily_flights_fact")
    assert described["TableName"] == "daily_flights_fact"
    columns = {c["name"]: c for c in described["ColumnList"]}
    assert list(columns) == ["flight_day", "carrier", "dep_delay", "arr_delay", "ratio", "amount", "is_late",
                             "loaded_at"]  # in table order
    assert {n: c["typeName"] for n, c in columns.items()} == {
        "flight_day": "date", "carrier": "varchar", "dep_delay": "int8", "arr_delay": "int4", "ratio": "float8",
        "amount": "numeric", "is_late": "bool", "loaded_at": "timestamp"}
    assert columns["flight_day"]["nullable"] == 0 and columns["dep_delay"]["nullable"] == 1
    assert (columns["amount"]["precision"], columns["amount"]["scale"]) == (12, 2)
    assert columns["arr_delay"]["columnDefault"] == "0" and "columnDefault" not in columns["dep_delay"]
    assert all(c["schemaName"] == "airlines" and c["tableName"] == "daily_flights_fact" for c in columns.values())
    assert columns["dep_delay"]["isSigned"] and not columns["carrier"]["isSigned"]


def test_describe_table_reports_the_declared_varchar_length(rd, db):
    columns = {c["name"]: c for c in rd.describe_table(**where(db), Schema="airlines",
                                                       Table="daily_flights_fact")["ColumnList"]}
    assert (columns["carrier"]["length"], columns["carrier"]["precision"]) == (3, 3)


def test_describe_table_without_schema_finds_the_table_anywhere_and_pages_columns(rd, db):
    flights = rd.describe_table(**where(db), Table="flights")["ColumnList"]
    assert [(c["schemaName"], c["name"]) for c in flights] == [("air_staging", "carrier")]
    paged = [c["name"] for page in rd.get_paginator("describe_table").paginate(
        **where(db), Schema="airlines", Table="daily_flights_fact", PaginationConfig={"PageSize": 3})
        for c in page["ColumnList"]]
    assert len(paged) == 8 and paged[0] == "flight_day" and paged[-1] == "loaded_at"
    assert rd.describe_table(**where(db), Schema="airlines", Table="no_such_table")["ColumnList"] == []


def test_metadata_on_a_workgroup(rd):
    database = f"wg_{uuid.uuid4().hex[:8]}"
    workgroup = {"WorkgroupName": "meta-workgroup", "Database": database}
    statement = rd.execute_statement(**workgroup, Sql="CREATE TABLE public.events (id BIGINT)")["Id"]
    deadline = time.monotonic() + 30
    while rd.describe_statement(Id=statement)["Status"] not in DONE:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert rd.list_tables(**workgroup, SchemaPattern="public")["Tables"] == [
        {"name": "events", "schema": "public", "type": "TABLE"}]
    assert {"dev", database} <= set(rd.list_databases(WorkgroupName="meta-workgroup")["Databases"])


def test_metadata_answers_beside_a_running_statement(rd, db):
    """Another session's catalog reads do not wait for a running query; they see what is committed."""
    digits = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(10))
    endless = (f"WITH d AS ({digits}), numbers AS (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 10000 * f.n "
               "AS id FROM d a, d b, d c, d e, d f) SELECT sum(a.id::BIGINT + b.id) FROM numbers a, numbers b")
    running = rd.batch_execute_statement(**where(db), Sqls=["CREATE TABLE airlines.uncommitted (a INT)", endless])
    deadline = time.monotonic() + 10
    while rd.describe_statement(Id=running["Id"])["Status"] != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    impatient = boto3.client("redshift-data", config=Config(read_timeout=20, retries={"total_max_attempts": 1}))
    try:
        names = [t["name"] for t in impatient.list_tables(**where(db), SchemaPattern="airlines")["Tables"]]
        assert "daily_flights_fact" in names and "uncommitted" not in names
    finally:
        rd.cancel_statement(Id=running["Id"])


def test_metadata_requests_are_checked_like_statements(rd, db):
    assert code_of(rd.list_schemas, Database=db) == "ValidationException"  # neither cluster nor workgroup
    assert code_of(rd.list_tables, ClusterIdentifier="no-such-cluster", Database=db) == "ValidationException"
    assert code_of(rd.list_tables, **where(db), WorkgroupName="meta-workgroup") == "ValidationException"
    assert code_of(rd.describe_table, **where(db), MaxResults=1001) == "ValidationException"
    assert code_of(rd.list_schemas, **where(db), NextToken="not-a-token") == "ValidationException"
    token = rd.list_tables(**where(db), MaxResults=1)["NextToken"]
    assert code_of(rd.list_schemas, **where(db), NextToken=token) == "ValidationException"  # another action's
