"""An in-process stack started again with the state another stack saved (`LocalStack.restart_from`)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

from flightpipe_local.ports import free_port
from flightpipe_local.server import LocalStack

TARGET = {"ClusterIdentifier": "restart-from", "Database": "dev"}


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106 - placeholders


def run_sql(endpoint: str, sql: str) -> dict:
    rd = client(endpoint, "redshift-data")
    statement_id = rd.execute_statement(Sql=sql, **TARGET)["Id"]
    deadline = time.monotonic() + 30
    while (described := rd.describe_statement(Id=statement_id))["Status"] not in ("FINISHED", "FAILED", "ABORTED"):
        assert time.monotonic() < deadline, described
        time.sleep(0.02)
    return {**described, "Records": rd.get_statement_result(Id=statement_id)["Records"]
            if described.get("HasResultSet") else []}


def saved_home(folder) -> None:
    """A background stack (as `flightpipe local start` runs it) given a bucket, an object and a table, then
    stopped: its last snapshot is in `folder / "snapshot"`."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "FLIGHTPIPE_"))}
    server = subprocess.Popen([sys.executable, "-m", "flightpipe_local.server", "--port", str(port),
                               "--state-dir", str(folder)], env=env, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "the stack did not start"
                time.sleep(0.1)
        client(endpoint, "redshift").create_cluster(
            ClusterIdentifier="restart-from", NodeType="ra3.xlplus", MasterUsername="admin",
            MasterUserPassword="Placeholder1", DBName="dev")
        assert run_sql(endpoint, "CREATE TABLE saved (n int); INSERT INTO saved VALUES (7)")["Status"] == "FINISHED"
        client(endpoint, "s3").create_bucket(Bucket="restart-from")
        client(endpoint, "s3").put_object(Bucket="restart-from", Key="day.csv", Body=b"a,b\n1,2\n")
    finally:
        server.send_signal(signal.SIGTERM)  # the stop takes the last snapshot
        assert server.wait(timeout=60) == 0


def test_an_in_process_stack_restarts_with_the_state_another_stack_saved(tmp_path, monkeypatch):
    saved_home(tmp_path / "saved")
    stack = LocalStack(tmp_path / "other", free_port()).start()
    try:
        s3 = client(stack.endpoint, "s3")
        assert "restart-from" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        with pytest.raises(client(stack.endpoint, "redshift-data").exceptions.ValidationException,
                           match="Redshift endpoint doesn't exist"):  # no cluster yet
            run_sql(stack.endpoint, "SELECT n FROM saved")
        port_taken, real_copytree = [], shutil.copytree

        def copytree(*args, **kwargs):  # while the state is replaced, the port stays this stack's
            with socket.socket() as other:
                try:
                    other.bind(("127.0.0.1", stack.ctx.port))
                    port_taken.append(False)
                except OSError:
                    port_taken.append(True)
            return real_copytree(*args, **kwargs)

        monkeypatch.setattr(shutil, "copytree", copytree)
        stack.restart_from(tmp_path / "saved" / "snapshot")

        assert port_taken and all(port_taken)
        # The clients made before go on working: the same endpoint, the restored state.
        assert s3.get_object(Bucket="restart-from", Key="day.csv")["Body"].read() == b"a,b\n1,2\n"
        assert run_sql(stack.endpoint, "SELECT n FROM saved")["Records"] == [[{"longValue": 7}]]
        assert (tmp_path / "saved" / "snapshot" / "current").exists()  # copied, not moved
    finally:
        stack.stop()
