"""`flightpipe local start|stop|status` as a user runs them: a real background process."""

import os
import subprocess
import sys

import pytest

from flightpipe_local.server import free_port


def flightpipe(home, *args):
    env = {**os.environ, "FLIGHTPIPE_HOME": str(home)}
    env.pop("FLIGHTPIPE_LOCAL_ENDPOINT", None)
    return subprocess.run(
        [sys.executable, "-m", "flightpipe.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def home(tmp_path):
    yield tmp_path
    flightpipe(tmp_path, "local", "stop")


def test_start_status_stop(home):
    port = free_port()
    started = flightpipe(home, "local", "start", "--port", str(port))
    assert started.returncode == 0, started.stderr
    endpoint = f"http://127.0.0.1:{port}"
    assert endpoint in started.stdout
    assert (home / "stack.pid").exists() and (home / "stack.log").exists()

    status = flightpipe(home, "local", "status")
    assert status.returncode == 0 and endpoint in status.stdout

    again = flightpipe(home, "local", "start", "--port", str(port))
    assert again.returncode == 1 and "already running" in again.stdout

    stopped = flightpipe(home, "local", "stop")
    assert stopped.returncode == 0
    after = flightpipe(home, "local", "status")
    assert after.returncode == 1 and "not running" in after.stdout


def test_start_reports_a_taken_port(home, tmp_path_factory):
    port = free_port()
    first = flightpipe(home, "local", "start", "--port", str(port))
    assert first.returncode == 0, first.stderr
    other_home = tmp_path_factory.mktemp("other")
    second = flightpipe(other_home, "local", "start", "--port", str(port))
    assert second.returncode == 1
    assert f"port {port}" in second.stderr and "already in use" in second.stderr


def test_start_right_after_a_sigkill_of_the_stack(home):
    """A killed stack may linger as a zombie (nobody reaps it) with its pid file left behind; its port may
    hold TIME_WAIT sockets. Neither is a running stack: `local start` on the same port must succeed."""
    import signal
    import urllib.request

    port = free_port()
    assert flightpipe(home, "local", "start", "--port", str(port)).returncode == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=5):
        pass  # one served connection, so the port has seen traffic
    os.kill(int((home / "stack.pid").read_text()), signal.SIGKILL)

    status = flightpipe(home, "local", "status")
    assert status.returncode == 1 and "not running" in status.stdout
    again = flightpipe(home, "local", "start", "--port", str(port))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"http://127.0.0.1:{port}" in again.stdout


def test_a_pid_file_naming_another_process_is_not_a_running_stack(home):
    """A pid reused by an unrelated process (here: this test's own) is not our stack."""
    home.mkdir(exist_ok=True)
    (home / "stack.pid").write_text(str(os.getpid()))
    (home / "endpoint").write_text("http://127.0.0.1:9")
    status = flightpipe(home, "local", "status")
    assert status.returncode == 1 and "not running" in status.stdout


def test_state_survives_stop_and_start_and_fresh_forgets_it(home):
    """S3 versions and the warehouse come back after a stop; `--fresh` forgets both."""
    import time

    import boto3

    port = free_port()

    def client(service):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")

    def sql(statement):
        data = client("redshift-data")
        sid = data.execute_statement(ClusterIdentifier="kept", Database="dev", DbUser="u", Sql=statement)["Id"]
        while (desc := data.describe_statement(Id=sid))["Status"] not in ("FINISHED", "FAILED", "ABORTED"):
            time.sleep(0.1)
        assert desc["Status"] == "FINISHED", desc
        return data.get_statement_result(Id=sid)["Records"] if desc["HasResultSet"] else None

    s3 = client("s3")
    assert flightpipe(home, "local", "start", "--port", str(port)).returncode == 0
    s3.create_bucket(Bucket="kept-bucket")
    s3.put_bucket_versioning(Bucket="kept-bucket", VersioningConfiguration={"Status": "Enabled"})
    versions = [s3.put_object(Bucket="kept-bucket", Key="k", Body=body)["VersionId"] for body in (b"one", b"two")]
    client("redshift").create_cluster(ClusterIdentifier="kept", NodeType="dc2.large", MasterUsername="u",
                                      MasterUserPassword="Placeholder1", ClusterType="single-node")
    sql("CREATE TABLE kept_rows (n INT)")
    sql("INSERT INTO kept_rows VALUES (1), (2)")
    assert flightpipe(home, "local", "stop").returncode == 0

    assert flightpipe(home, "local", "start", "--port", str(port)).returncode == 0
    listed = s3.list_object_versions(Bucket="kept-bucket")["Versions"]
    assert sorted(v["VersionId"] for v in listed) == sorted(versions)
    bodies = {v: s3.get_object(Bucket="kept-bucket", Key="k", VersionId=v)["Body"].read() for v in versions}
    assert bodies == dict(zip(versions, (b"one", b"two"), strict=True))
    assert sql("SELECT SUM(n) FROM kept_rows") == [[{"longValue": 3}]]
    assert flightpipe(home, "local", "stop").returncode == 0

    assert flightpipe(home, "local", "start", "--fresh", "--port", str(port)).returncode == 0
    assert s3.list_buckets()["Buckets"] == []
    assert client("redshift").describe_clusters()["Clusters"] == []
    assert not (home / "warehouse").exists()


def test_an_unreadable_saved_state_is_refused_with_what_to_do(home):
    port = free_port()
    assert flightpipe(home, "local", "start", "--port", str(port)).returncode == 0
    assert flightpipe(home, "local", "stop").returncode == 0
    generation = home / "snapshot" / (home / "snapshot" / "current").read_text().strip()
    (generation / "backends.pickle").write_bytes(b"not a pickle")

    refused = flightpipe(home, "local", "start", "--port", str(port))
    assert refused.returncode == 1
    assert "cannot be read" in refused.stderr and "flightpipe local start --fresh" in refused.stderr
    assert flightpipe(home, "local", "start", "--fresh", "--port", str(port)).returncode == 0
