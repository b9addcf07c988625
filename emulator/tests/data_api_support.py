"""What the Data API tests share: a cluster to address, and waiting for a statement to end."""

from __future__ import annotations

import time

import boto3

DONE = ("FINISHED", "FAILED", "ABORTED")


def cluster_data_api(cluster: str, db_name: str = "dev"):
    """A Redshift Data API client, after creating the provisioned cluster `cluster` it can address."""
    boto3.client("redshift").create_cluster(
        ClusterIdentifier=cluster, NodeType="ra3.xlplus", MasterUsername="admin",
        MasterUserPassword="Placeholder1", DBName=db_name,  # noqa: S106 - a placeholder the stack ignores
    )
    return boto3.client("redshift-data")


def wait(rd, statement_id: str, timeout: float = 30) -> dict:
    """DescribeStatement once the statement has ended (FINISHED, FAILED or ABORTED)."""
    deadline = time.monotonic() + timeout
    while (described := rd.describe_statement(Id=statement_id))["Status"] not in DONE:
        assert time.monotonic() < deadline, described
        time.sleep(0.02)
    return described
