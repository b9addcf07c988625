"""The local Data API refuses what AWS refuses, with AWS's exception, and CancelStatement really stops a query.

Sources: Amazon Redshift Data API Reference (DescribeStatement, GetStatementResult, CancelStatement,
ExecuteStatement, BatchExecuteStatement, ListStatements; the shapes UUID, SqlList, SqlParameter,
ListStatementsLimit, ResultFormatString) and the Redshift Management Guide's "Considerations when calling the
Amazon Redshift Data API" (a statement is at most 100 KB).
"""

from __future__ import annotations

import time
import uuid

import pytest
from botocore.exceptions import ClientError
from data_api_support import cluster_data_api, wait

CLUSTER = "rsdata-errors"
DIGITS = " UNION ALL ".join(f"SELECT {n} AS n" for n in range(10))
NUMBERS = (
    f"WITH d AS ({DIGITS}), numbers AS (SELECT a.n + 10 * b.n + 100 * c.n + 1000 * e.n + 10000 * f.n AS id "
    "FROM d a CROSS JOIN d b CROSS JOIN d c CROSS JOIN d e CROSS JOIN d f)"
)
ENDLESS = f"{NUMBERS} SELECT sum(a.id::BIGINT + b.id) FROM numbers a CROSS JOIN numbers b"  # 10^10 rows


@pytest.fixture(scope="module")
def rd(local_stack):
    return cluster_data_api(CLUSTER)


@pytest.fixture
def db():
    return f"db_{uuid.uuid4().hex[:8]}"


def submit(rd, db: str, sql: str, **kwargs) -> str:
    return rd.execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sql=sql, **kwargs)["Id"]


def wait_started(rd, statement_id: str) -> None:
    deadline = time.monotonic() + 10
    while (status := rd.describe_statement(Id=statement_id)["Status"]) in ("SUBMITTED", "PICKED"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert status == "STARTED"


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response


# ---------------------------------------------------------------- CancelStatement


def test_cancelled_query_stops_stays_aborted_and_the_next_query_runs_at_once(rd, db):
    running = submit(rd, db, ENDLESS)
    wait_started(rd, running)
    assert rd.cancel_statement(Id=running)["Status"] is True
    cancelled_at = time.monotonic()
    follow_up = submit(rd, db, "SELECT 1")  # same database, so the same worker: it runs once the query stopped
    assert wait(rd, follow_up, timeout=5)["Status"] == "FINISHED"
    assert time.monotonic() - cancelled_at < 1.0  # demanded: the next statement runs promptly
    described = rd.describe_statement(Id=running)
    assert described["Status"] == "ABORTED"
    assert "cancelled" in described["Error"]
    assert rd.get_statement_result(Id=follow_up)["Records"] == [[{"longValue": 1}]]


def test_a_cancelled_batch_leaves_nothing_behind(rd, db):
    batch = rd.batch_execute_statement(ClusterIdentifier=CLUSTER, Database=db, Sqls=[
        "CREATE TABLE made_before_cancel (a INT)", ENDLESS])["Id"]
    wait_started(rd, batch)
    rd.cancel_statement(Id=batch)
    described = wait(rd, batch)
    assert described["Status"] == "ABORTED"
    assert [s["Status"] for s in described["SubStatements"]] == ["ABORTED", "ABORTED"]
    check = wait(rd, submit(rd, db, "SELECT count(*) FROM information_schema.tables "
                                    "WHERE table_name = 'made_before_cancel'"))
    assert check["Status"] == "FINISHED"
    assert rd.get_statement_result(Id=check["Id"])["Records"] == [[{"longValue": 0}]]
    time.sleep(0.3)  # long after the worker let go of it, it is still ABORTED
    assert rd.describe_statement(Id=batch)["Status"] == "ABORTED"


def test_cancel_of_a_finished_statement_is_refused(rd, db):
    done = wait(rd, submit(rd, db, "SELECT 1"))
    response = error_of(rd.cancel_statement, Id=done["Id"])
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        f"Could not cancel a query that is already in FINISHED state with ID: {done['Id']}")


# ---------------------------------------------------------------- statement ids


@pytest.mark.parametrize("action", ["describe_statement", "get_statement_result", "cancel_statement"])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "4A1D0C9E-0000-0000-0000-000000000000",
                                    f"{uuid.uuid4()}:x", f"{uuid.uuid4()}:"])
def test_a_malformed_statement_id_is_a_validation_error(rd, action, bad_id):
    response = error_of(getattr(rd, action), Id=bad_id)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"].startswith("id must satisfy regex pattern:")


@pytest.mark.parametrize("action", ["describe_statement", "get_statement_result", "cancel_statement"])
def test_an_unknown_statement_id_is_not_found(rd, action):
    unknown = str(uuid.uuid4())
    response = error_of(getattr(rd, action), Id=unknown)
    assert response["Error"]["Code"] == "ResourceNotFoundException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_sub_statement_ids_exist_only_for_the_statements_of_a_batch(rd, db):
    batch = wait(rd, rd.batch_execute_statement(ClusterIdentifier=CLUSTER, Database=db,
                                                Sqls=["SELECT 1", "SELECT 2"])["Id"])
    assert rd.describe_statement(Id=f"{batch['Id']}:2")["QueryString"] == "SELECT 2"
    for missing in (f"{batch['Id']}:3", f"{batch['Id']}:0"):
        assert error_of(rd.describe_statement, Id=missing)["Error"]["Code"] == "ResourceNotFoundException"
    single = wait(rd, submit(rd, db, "SELECT 1"))
    assert error_of(rd.describe_statement, Id=f"{single['Id']}:1")["Error"]["Code"] == "ResourceNotFoundException"


def test_a_batch_is_described_as_the_management_guide_shows(rd, db):
    """Redshift Management Guide, "Describe metadata about a SQL statement": a batch of two one-row SELECTs
    has no QueryString of its own, RedshiftQueryId 0, ResultRows 2 and HasResultSet true."""
    described = wait(rd, rd.batch_execute_statement(ClusterIdentifier=CLUSTER, Database=db,
                                                    Sqls=["SELECT 1", "SELECT 2"])["Id"])
    assert "QueryString" not in described
    assert (described["RedshiftQueryId"], described["ResultRows"], described["HasResultSet"]) == (0, 2, True)
    assert [s["QueryString"] for s in described["SubStatements"]] == ["SELECT 1", "SELECT 2"]
    assert [s["ResultRows"] for s in described["SubStatements"]] == [1, 1]


# ---------------------------------------------------------------- ExecuteStatement / BatchExecuteStatement


def test_cluster_and_workgroup_together_are_refused(rd, db):
    response = error_of(rd.execute_statement, ClusterIdentifier=CLUSTER, WorkgroupName="some-workgroup",
                        Database=db, Sql="SELECT 1")
    assert response["Error"]["Code"] == "ValidationException"


def test_a_statement_needs_a_database_and_a_well_formed_cluster_identifier(rd, db):
    missing = error_of(rd.execute_statement, ClusterIdentifier=CLUSTER, Sql="SELECT 1")
    assert missing["Error"]["Code"] == "ValidationException" and "Database" in missing["Error"]["Message"]
    malformed = error_of(rd.execute_statement, ClusterIdentifier="Not_A_Cluster", Database=db, Sql="SELECT 1")
    assert malformed["Error"]["Code"] == "ValidationException"
    assert "[a-z][a-z0-9]*(-[a-z0-9]+)*" in malformed["Error"]["Message"]


def test_a_statement_over_100_kb_is_refused(rd, db):
    padding = " " * (100 * 1024)
    response = error_of(rd.execute_statement, ClusterIdentifier=CLUSTER, Database=db, Sql=f"SELECT 1{padding}")
    assert response["Error"]["Code"] == "ValidationException"
    assert "100kB" in response["Error"]["Message"]
    assert wait(rd, submit(rd, db, "SELECT 1" + " " * (100 * 1024 - 9)))["Status"] == "FINISHED"  # just under


def test_a_batch_has_at_most_40_statements(rd, db):
    response = error_of(rd.batch_execute_statement, ClusterIdentifier=CLUSTER, Database=db,
                        Sqls=["SELECT 1"] * 41)
    assert response["Error"]["Code"] == "ValidationException"
    described = wait(rd, rd.batch_execute_statement(ClusterIdentifier=CLUSTER, Database=db,
                                                    Sqls=["SELECT 1"] * 40)["Id"])
    assert len(described["SubStatements"]) == 40


def test_parameter_names_are_letters_digits_and_underscores(rd, db):
    response = error_of(rd.execute_statement, ClusterIdentifier=CLUSTER, Database=db, Sql="SELECT :a-b",
                        Parameters=[{"name": "a-b", "value": "1"}])
    assert response["Error"]["Code"] == "ValidationException"
    assert "[0-9a-zA-Z_]+" in response["Error"]["Message"]


def test_an_unknown_result_format_is_refused(rd, db):
    response = error_of(rd.execute_statement, ClusterIdentifier=CLUSTER, Database=db, Sql="SELECT 1",
                        ResultFormat="XML")
    assert response["Error"]["Code"] == "ValidationException"


def test_csv_results_are_not_served_by_get_statement_result(rd, db):
    described = wait(rd, submit(rd, db, "SELECT 1", ResultFormat="CSV"))
    assert described["Status"] == "FINISHED" and described["ResultFormat"] == "CSV"
    assert error_of(rd.get_statement_result, Id=described["Id"])["Error"]["Code"] == "ValidationException"


def test_a_statement_without_a_result_set_has_no_result(rd, db):
    described = wait(rd, submit(rd, db, "CREATE TABLE t (a INT)"))
    assert described["Status"] == "FINISHED" and described["HasResultSet"] is False
    response = error_of(rd.get_statement_result, Id=described["Id"])
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Error"]["Message"] == (
        "Query does not have result. Please check query status with DescribeStatement.")


@pytest.mark.parametrize("sql", ["SELECT FROM WHERE (", "SELEC 1", "SELECT * FROM missing_relation"])
def test_errors_are_one_line_of_plain_text(rd, db, sql):
    failed = wait(rd, submit(rd, db, sql))
    assert failed["Status"] == "FAILED"
    assert failed["Error"].strip()
    assert "\x1b" not in failed["Error"] and "\n" not in failed["Error"]


# ---------------------------------------------------------------- ListStatements


def test_list_statements_pages_newest_first(rd, db):
    name = f"paged-{db}"
    ids = [wait(rd, submit(rd, db, f"SELECT {n}", StatementName=name))["Id"] for n in range(3)]
    first = rd.list_statements(StatementName=name, MaxResults=2)
    assert [s["Id"] for s in first["Statements"]] == ids[::-1][:2]
    second = rd.list_statements(StatementName=name, MaxResults=2, NextToken=first["NextToken"])
    assert [s["Id"] for s in second["Statements"]] == ids[:1] and "NextToken" not in second
    paginated = [s["Id"] for page in rd.get_paginator("list_statements").paginate(
        StatementName=name, PaginationConfig={"PageSize": 1}) for s in page["Statements"]]
    assert paginated == ids[::-1]


def test_list_statements_shows_finished_statements_unless_asked_for_others(rd, db):
    name = f"status-{db}"
    finished = wait(rd, submit(rd, db, "SELECT 1", StatementName=name))["Id"]
    failed = wait(rd, submit(rd, db, "SELECT * FROM missing_relation", StatementName=name))["Id"]
    assert [s["Id"] for s in rd.list_statements(StatementName=name)["Statements"]] == [finished]
    assert [s["Id"] for s in rd.list_statements(StatementName=name, Status="FAILED")["Statements"]] == [failed]
    everything = rd.list_statements(StatementName=name, Status="ALL")["Statements"]
    assert [s["Id"] for s in everything] == [failed, finished]


def test_list_statements_checks_its_limits(rd):
    assert error_of(rd.list_statements, MaxResults=101)["Error"]["Code"] == "ValidationException"
    assert error_of(rd.list_statements, Status="DONE")["Error"]["Code"] == "ValidationException"
    assert error_of(rd.list_statements, NextToken="garbage")["Error"]["Code"] == "ValidationException"
