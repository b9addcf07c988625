"""ExecuteStatement's options on the local Data API: ResultFormat CSV with GetStatementResultV2, ClientToken,
WaitTimeSeconds, and a plain refusal of the options the local stack does not reproduce.

Sources: Amazon Redshift Data API Reference (ExecuteStatement, BatchExecuteStatement, GetStatementResultV2,
QueryRecords: "The results of the SQL statement in CSV format"). The reference does not spell out the CSV's
layout; the local stack writes RFC 4180 CSV (CRLF line ends, quoted fields) and Redshift's t/f booleans.
"""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError
from data_api_support import cluster_data_api, wait

from flightpipe_local.redshift import validation

CLUSTER = "rsdata-options"


@pytest.fixture(scope="module")
def rd(local_stack):
    return cluster_data_api(CLUSTER)


@pytest.fixture
def where():
    return {"ClusterIdentifier": CLUSTER, "Database": f"db_{uuid.uuid4().hex[:8]}"}


def test_csv_results_come_from_get_statement_result_v2(rd, where):
    sql = ("SELECT n::BIGINT AS n, label, flag FROM (VALUES (1, 'a', TRUE), (2, 'b,c', FALSE), (3, NULL, NULL)) "
           "AS t (n, label, flag) ORDER BY n")
    described = wait(rd, rd.execute_statement(**where, Sql=sql, ResultFormat="CSV")["Id"])
    assert described["Status"] == "FINISHED", described.get("Error")
    result = rd.get_statement_result_v2(Id=described["Id"])
    assert result["ResultFormat"] == "CSV" and result["TotalNumRows"] == 3
    assert [c["name"] for c in result["ColumnMetadata"]] == ["n", "label", "flag"]
    assert result["Records"] == [{"CSVRecords": '1,a,t\r\n2,"b,c",f\r\n3,,\r\n'}]
    listed = rd.list_statements(Status="FINISHED")["Statements"]
    assert next(s for s in listed if s["Id"] == described["Id"])["ResultFormat"] == "CSV"


def test_json_results_are_not_served_by_get_statement_result_v2(rd, where):
    described = wait(rd, rd.execute_statement(**where, Sql="SELECT 1")["Id"])
    assert described["ResultFormat"] == "JSON"  # the default
    with pytest.raises(ClientError, match="ValidationException"):
        rd.get_statement_result_v2(Id=described["Id"])


def test_the_same_client_token_makes_one_statement(rd, where):
    token = uuid.uuid4().hex
    first = rd.execute_statement(**where, Sql="CREATE TABLE once (a INT)", ClientToken=token)["Id"]
    again = rd.execute_statement(**where, Sql="CREATE TABLE once (a INT)", ClientToken=token)["Id"]
    assert again == first
    assert wait(rd, first)["Status"] == "FINISHED"
    other = rd.execute_statement(**where, Sql="SELECT 1", ClientToken=uuid.uuid4().hex)["Id"]
    assert other != first


def test_wait_time_seconds_answers_with_the_final_status(rd, where):
    answer = rd.execute_statement(**where, Sql="SELECT 42 AS answer", WaitTimeSeconds=5)
    assert answer["Status"] == "FINISHED" and answer["HasResultSet"] is True
    assert rd.get_statement_result(Id=answer["Id"])["Records"] == [[{"longValue": 42}]]
    with pytest.raises(ClientError, match="ValidationException"):
        rd.execute_statement(**where, Sql="SELECT 1", WaitTimeSeconds=31)


@pytest.mark.parametrize("option", [{"SessionKeepAliveSeconds": 60}, {"WithEvent": True}])
def test_options_the_local_stack_does_not_reproduce_are_refused_plainly(rd, where, option):
    with pytest.raises(ClientError) as raised:
        rd.execute_statement(**where, Sql="SELECT 1", **option)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "local stack" in raised.value.response["Error"]["Message"]


def test_a_batch_in_auto_commit_mode_is_refused_plainly(rd, where):
    with pytest.raises(ClientError, match="TRANSACTION"):
        rd.batch_execute_statement(**where, Sqls=["SELECT 1"], ExecutionMode="AUTO_COMMIT")


def test_at_most_500_statements_are_active_per_cluster(rd, where, monkeypatch):
    """Considerations when calling the Amazon Redshift Data API: at most 500 active (SUBMITTED or STARTED)
    queries per cluster. The limit is lowered here to keep the test short; the mechanism is the same."""
    assert validation.MAX_ACTIVE == 500
    monkeypatch.setattr(validation, "MAX_ACTIVE", 5)
    digits = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(10))
    blocker = (f"WITH d AS ({digits}), numbers AS (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 10000 * f.n "
               "AS id FROM d a, d b, d c, d e, d f) SELECT sum(a.id::BIGINT + b.id) FROM numbers a, numbers b")
    queued = [rd.execute_statement(**where, Sql=blocker)["Id"]]
    queued += [rd.execute_statement(**where, Sql="SELECT 1")["Id"] for _ in range(4)]
    other_cluster_database = rd.execute_statement(WorkgroupName="options-wg", Database="dev", Sql="SELECT 1")
    try:
        with pytest.raises(ClientError) as raised:
            rd.execute_statement(**where, Sql="SELECT 1")
        assert raised.value.response["Error"]["Code"] == "ActiveStatementsExceededException"
    finally:
        for statement_id in reversed(queued):  # the queued ones first, so the blocker cannot let them run
            rd.cancel_statement(Id=statement_id)
    assert wait(rd, other_cluster_database["Id"])["Status"] == "FINISHED"  # each target has its own limit
    assert wait(rd, rd.execute_statement(**where, Sql="SELECT 1")["Id"])["Status"] == "FINISHED"


def test_describe_and_get_result_wait_for_the_statement_when_asked(rd, where):
    digits = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(10))
    slow = (f"WITH d AS ({digits}) SELECT sum(a.n + b.n + c.n + e.n + f.n + g.n + h.n)::BIGINT AS total "
            "FROM d a, d b, d c, d e, d f, d g, d h")  # 10^7 rows: still running when first asked about
    statement = rd.execute_statement(**where, Sql=slow)["Id"]
    assert rd.describe_statement(Id=statement, WaitTimeSeconds=10)["Status"] == "FINISHED"
    again = rd.execute_statement(**where, Sql=slow)["Id"]
    total = 7 * 45 * 10**6  # each digit 10^6 times in each of the 7 columns
    assert rd.get_statement_result(Id=again, WaitTimeSeconds=10)["Records"] == [[{"longValue": total}]]
