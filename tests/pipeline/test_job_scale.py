"""What a daily run costs as history grows, the run summary after a long backfill, and conflicting claims.

Statements per daily run are counted from the Data API's ListStatements; S3 calls from botocore's events of
the job's own clients. Loaded days are seeded into the ledger and the catalog directly (the job's work per
old day is what is measured, not loading them).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import boto3
import pytest

from flightpipe_job import data_api
from flightpipe_job.session import job_session

ROOT = Path(__file__).resolve().parents[2]
RAW_PREFIX = "raw/flights/"


def seed_loaded_days(pipeline, days: int) -> None:
    """`days` days before 2013-01-01: each a file in S3, catalogued, and its version LOADED in the ledger."""
    first = dt.date(2013, 1, 1) - dt.timedelta(days=days)
    dates = [first + dt.timedelta(days=i) for i in range(days)]
    s3 = boto3.client("s3")
    versions = {d: s3.put_object(Bucket=pipeline.bucket, Key=f"{RAW_PREFIX}date={d}/flights.csv",
                                 Body=b"Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay\n")["VersionId"]
                for d in dates}
    rows = [
        f"('{uuid.uuid4().hex}', DATE '{d}', '{pipeline.bucket}', '{RAW_PREFIX}date={d}/flights.csv', '{versions[d]}', "
        f"TIMESTAMP '{d} 06:00:00', 'LOADED', FALSE, 60, 10, 5, 0, 5, 'daily_flights_etl', 'seed', "
        f"TIMESTAMP '{d} 06:00:00', TIMESTAMP '{d} 06:01:00')"
        for d in dates
    ]
    for start in range(0, len(rows), 200):
        pipeline.warehouse.run(
            "INSERT INTO airlines.load_ledger (load_id, flight_date, source_bucket, source_key, source_version, "
            "source_last_modified, status, retryable, min_dep_delay, rows_read, rows_loaded, rows_rejected, "
            "rows_filtered, job_name, job_run_id, started_at, finished_at) VALUES " + ", ".join(rows[start:start + 200])
        )
    glue = boto3.client("glue")
    for start in range(0, len(dates), 100):
        glue.batch_create_partition(
            DatabaseName=pipeline.glue_database, TableName=pipeline.glue_table,
            PartitionInputList=[{"Values": [str(d)], "StorageDescriptor": {
                "Location": f"s3://{pipeline.bucket}/{RAW_PREFIX}date={d}/"}} for d in dates[start:start + 100]],
        )


def statement_ids() -> set[str]:
    client, ids, token = boto3.client("redshift-data"), set(), None
    while True:
        page = client.list_statements(MaxResults=100, Status="ALL", **({"NextToken": token} if token else {}))
        ids |= {s["Id"] for s in page["Statements"]}
        token = page.get("NextToken")
        if not token:
            return ids


class ApiCalls:
    """The API calls, in order, of `services`' clients created while active (the job creates its own)."""

    def __init__(self, *services: str):
        self.services = services
        self.calls: list[tuple[str, str]] = []  # (service, operation)

    def __enter__(self):
        boto3.DEFAULT_SESSION = None  # a new session, as a job process starts with
        for service in self.services:
            job_session().events.register(f"before-call.{service}", self.count)
        return self

    def count(self, model, **kwargs):
        self.calls.append((model.service_model.service_id.hyphenize(), model.name))

    def of(self, service: str) -> list[str]:
        return [operation for name, operation in self.calls if name == service]

    def __exit__(self, *exc):
        for service in self.services:
            boto3.DEFAULT_SESSION.events.unregister(f"before-call.{service}", self.count)


def measure_daily_run(pipeline, nyc_days, loaded_days: int) -> tuple[int, int]:
    """(Data API statements, S3 calls) of the daily run for 2013-01-01 after `loaded_days` loaded days."""
    seed_loaded_days(pipeline, loaded_days)
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"])
    before = statement_ids()
    with ApiCalls("s3") as calls:
        summary = pipeline.run(object_key=pipeline.key("2013-01-01"))
    assert [r["status"] for r in summary["loads"]] == ["LOADED"]
    return len(statement_ids() - before), len(calls.of("s3"))


@pytest.mark.parametrize("loaded_days", [1, 30, 365])
def test_a_daily_run_costs_the_same_whatever_the_history(pipeline, nyc_days, loaded_days, record_property):
    statements, s3_calls = measure_daily_run(pipeline, nyc_days, loaded_days)
    record_property("statements", statements)
    record_property("s3_calls", s3_calls)
    print(f"after {loaded_days} loaded days: {statements} Data API statements, {s3_calls} S3 calls")
    # airports, settled days, claim (one batch), load (one batch, ending with the run's ledger rows)
    assert statements == 4
    # HEAD, LIST of its versions (older ones get a SUPERSEDED row) and GET of the new day; PUT + DELETE of the
    # claims file; PUTs of staged rows and loads file; HEAD again before the load (did a newer version land?);
    # LIST + DELETE of the staging folder
    assert s3_calls == 10


def test_a_daily_run_sends_both_reads_of_the_warehouse_before_waiting_for_either(pipeline, nyc_days):
    """The airport ids and the settled days are two ExecuteStatement calls at the start of the run: each runs
    on the warehouse while the job creates its other clients and lists the catalog, instead of one after the
    other (the Data API runs a statement asynchronously; the job waits for it with DescribeStatement)."""
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"])
    with ApiCalls("glue", "redshift-data") as calls:
        summary = pipeline.run(object_key=pipeline.key("2013-01-01"))
    assert [r["status"] for r in summary["loads"]] == ["LOADED"]
    operations = [operation for _, operation in calls.calls]
    assert operations[:2] == ["ExecuteStatement", "ExecuteStatement"]
    assert operations.index("GetPartitions") < operations.index("DescribeStatement")


def test_the_run_summary_stays_within_listagg_limits_after_a_long_backfill(pipeline):
    """LISTAGG fails beyond VARCHAR(65535) (doc "LISTAGG function"); 400 days with rejects would need ~80 KB."""
    run_id = "exec-backfill"
    location = f"s3://{pipeline.bucket}/rejects/flights/" + "x" * 150 + ".csv"
    first = dt.date(2012, 1, 1)
    rows = [
        f"('{uuid.uuid4().hex}', DATE '{first + dt.timedelta(days=i)}', '{pipeline.bucket}', 'k{i}', 'v', 'LOADED', "
        f"10, 6, 1, 3, '{location}', '{run_id}', TIMESTAMP '2013-01-01 00:00:00')"
        for i in range(400)
    ]
    for start in range(0, len(rows), 200):
        pipeline.warehouse.run(
            "INSERT INTO airlines.load_ledger (load_id, flight_date, source_bucket, source_key, source_version, "
            "status, rows_read, rows_loaded, rows_rejected, rows_filtered, rejects_location, job_run_id, started_at) "
            "VALUES " + ", ".join(rows[start:start + 200])
        )
    sql = (ROOT / "sql" / "run_summary.sql").read_text()
    (row,) = pipeline.warehouse.query(sql, {"job_run_id": run_id}).to_dict("records")
    assert row["objects"] == "400"
    assert (row["rows_read"], row["rows_loaded"], row["rows_rejected"], row["rows_filtered"]) == (
        "4000", "2400", "400", "1200")
    days = row["days"].split(", ")
    assert days[:2] == ["2012-01-01 LOADED", "2012-01-02 LOADED"] and days[19] == "2012-01-20 LOADED and 380 more"
    assert row["rejects"] == " ".join([location] * 20) + " and 380 more files"
    assert len(row["days"]) < 65535 and len(row["rejects"]) < 65535


class ConflictingDataAPI:
    """A Data API whose first claim transaction loses a serializable conflict (Redshift's ERROR 1023)."""

    def __init__(self, real, fail_sql: str):
        self.real, self.fail_sql, self.failed, self.submitted = real, fail_sql, 0, []

    def batch_execute_statement(self, **kwargs):
        self.submitted.append(kwargs["Sqls"])
        if any(self.fail_sql in sql for sql in kwargs["Sqls"]) and not self.failed:
            self.failed += 1
            return {"Id": "conflict"}
        return self.real.batch_execute_statement(**kwargs)

    def describe_statement(self, Id, **kwargs):  # noqa: N803 - boto3's names; WaitTimeSeconds passes through
        if Id == "conflict":
            return {"Id": Id, "Status": "FAILED", "Error": "ERROR: 1023 DETAIL: Serializable isolation violation "
                    "on table - 123456, transactions forming the cycle are: 1001, 1002 (pid:4242)"}
        return self.real.describe_statement(Id=Id, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_claim_that_loses_a_serializable_conflict_is_retried(pipeline, nyc_days, expected, monkeypatch):
    original = data_api.DataApiClient.__init__

    def conflicting(self, args):
        original(self, args)
        self.client = ConflictingDataAPI(self.client, "INSERT INTO airlines.load_ledger")

    monkeypatch.setattr(data_api.DataApiClient, "__init__", conflicting)
    monkeypatch.setattr(data_api.time, "sleep", lambda seconds: None)
    pipeline.put_day("2013-01-01", nyc_days["2013-01-01"])
    summary = pipeline.run(object_key=pipeline.key("2013-01-01"))
    assert [r["status"] for r in summary["loads"]] == ["LOADED"]
    assert expected.normalise(pipeline.facts()).equals(expected(nyc_days["2013-01-01"]))
    assert pipeline.ledger().status.tolist() == ["LOADED"]  # the failed attempt left nothing behind
