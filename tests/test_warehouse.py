"""The warehouse helper over the Data API of the local stack."""

import uuid

import boto3
import pytest

from flightpipe.warehouse import StatementFailed, Warehouse


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
