"""The warehouse helper over the Data API of the local stack."""

import time
import uuid
from types import SimpleNamespace

import boto3
import pytest

from flightpipe.warehouse import StatementFailed, Warehouse
from flightpipe_job import data_api


@pytest.fixture(scope="module")
def warehouse(local_stack):
    cluster = f"wh-{uuid.uuid4().hex[:8]}"
    boto3.client("redshift").create_cluster(
        ClusterIdentifier=cluster, NodeType="ra3.xlplus", MasterUsername="admin", ManageMasterPassword=True)
    return Warehouse(database="dev", cluster_id=cluster, db_user="admin", timeout=30)


def test_a_failed_batch_names_the_statement_that_failed(warehouse):
    # A batch has no QueryString of its own (Management Guide, "Running SQL statements"): the failing
    # sub-statement's text is the one to show.
    with pytest.raises(StatementFailed, match=r"SQL: SELECT n FROM no_such_table") as failed:
        warehouse.run_batch(["CREATE TEMP TABLE t (n INT)", "SELECT n FROM no_such_table"])
    assert "no_such_table" in str(failed.value)


def test_a_query_returns_its_rows(warehouse):
    frame = warehouse.query("SELECT 7 AS seven, 'x' AS letter")
    assert frame.to_dict("records") == [{"seven": 7, "letter": "x"}]


def test_a_failed_query_names_its_sql(warehouse):
    with pytest.raises(StatementFailed, match=r"^FAILED: .* -- SQL: SELECT n FROM no_such_table"):
        warehouse.query("SELECT n FROM no_such_table")


def test_queries_return_each_statements_rows_with_its_own_parameters(warehouse):
    frames = warehouse.queries([("SELECT CAST(:n AS INTEGER) AS n", {"n": 7}), ("SELECT 'no parameters' AS text", None),
                                ("SELECT :word AS word, :word || '!' AS loud", {"word": "hi"})])
    assert [f.to_dict("records") for f in frames] == [[{"n": 7}], [{"text": "no parameters"}],
                                                      [{"word": "hi", "loud": "hi!"}]]


class FakeDataApi:
    """ExecuteStatement, DescribeStatement (each statement STARTED `busy` times, then FINISHED) and paged
    GetStatementResult, recording every call in order."""

    def __init__(self, busy: int = 0, pages: list[list[list[dict]]] | None = None):
        self.busy, self.pages, self.calls, self.looks = busy, pages or [[]], [], {}

    def execute_statement(self, **kwargs):
        self.calls.append(("execute", kwargs["Sql"], kwargs.get("Parameters")))
        return {"Id": f"s{len(self.calls)}"}

    def describe_statement(self, Id):  # noqa: N803 - boto3's names
        self.calls.append(("describe", Id))
        self.looks[Id] = self.looks.get(Id, 0) + 1
        done = self.looks[Id] > self.busy
        return {"Id": Id, "Status": "FINISHED" if done else "STARTED", "HasResultSet": True}

    def get_statement_result(self, Id, NextToken=None):  # noqa: N803 - boto3's names
        number = int(NextToken or 0)
        page = {"ColumnMetadata": [{"name": "day"}, {"name": "n"}], "Records": self.pages[number]}
        return {**page, "NextToken": str(number + 1)} if number + 1 < len(self.pages) else page


def fake_warehouse(fake: FakeDataApi) -> Warehouse:
    warehouse = Warehouse(database="dev", cluster_id="c1", db_user="admin")
    warehouse.__dict__["client"] = fake  # the cached boto3 client, replaced
    return warehouse


def test_a_query_looks_first_after_a_few_milliseconds_then_backs_off(monkeypatch):
    # The Data API is asynchronous: DescribeStatement tells when a statement is done (API Reference,
    # "DescribeStatement"). A query of milliseconds is seen done at the first or second look, not after 0.25 s.
    pauses = []
    monkeypatch.setattr(data_api, "time", SimpleNamespace(sleep=pauses.append, monotonic=time.monotonic))
    fake_warehouse(FakeDataApi(busy=3)).query("SELECT 1")
    assert pauses == pytest.approx([0.005, 0.00625, 0.0078125, 0.009765625])  # then up to one look per 2 s


def test_queries_are_all_submitted_before_the_first_is_awaited_and_every_page_is_read(monkeypatch):
    monkeypatch.setattr(data_api, "time", SimpleNamespace(sleep=lambda seconds: None, monotonic=time.monotonic))
    pages = [[[{"stringValue": "2013-01-01"}, {"longValue": 3}]], [[{"isNull": True}, {"longValue": 4}]]]
    fake = FakeDataApi(busy=1, pages=pages)
    frames = fake_warehouse(fake).queries([("SELECT :a", {"a": 1}), ("SELECT :b", {"b": "x"})])
    assert fake.calls[:2] == [("execute", "SELECT :a", [{"name": "a", "value": "1"}]),
                              ("execute", "SELECT :b", [{"name": "b", "value": "x"}])]
    assert {call[0] for call in fake.calls[2:]} == {"describe"}
    for frame in frames:
        assert list(frame.columns) == ["day", "n"] and frame["n"].tolist() == [3, 4]
        assert frame["day"][0] == "2013-01-01" and frame["day"].isna().tolist() == [False, True]


def test_a_query_is_awaited_in_one_describe_call_that_waits_for_its_end(warehouse):
    # DescribeStatement's WaitTimeSeconds: "The number of seconds to wait for the SQL statement to complete
    # execution before returning the description" (Data API Reference). boto3 clients that know it wait so.
    sent = []

    def record(params, **_):
        sent.append(dict(params))

    events = warehouse.client.meta.events
    events.register("provide-client-params.redshift-data.DescribeStatement", record)
    try:
        frame = warehouse.query("SELECT COUNT(*) AS n FROM (SELECT 1 AS x UNION ALL SELECT 2 AS x) t")
    finally:
        events.unregister("provide-client-params.redshift-data.DescribeStatement", record)
    assert frame["n"].tolist() == [2]
    assert len(sent) == 1 and 1 <= sent[0]["WaitTimeSeconds"] <= 30
