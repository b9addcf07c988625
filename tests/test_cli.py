"""`flightpipe local start|stop|status` as a user runs them: a real background process."""

import os
import subprocess
import sys

import pytest

from flightpipe_local.ports import free_port


def flightpipe(home, *args, **extra_env):
    env = {**os.environ, "FLIGHTPIPE_HOME": str(home), **extra_env}
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


# ---------------------------------------------------------------- flightpipe run / sql as a user meets them
def test_run_help_lists_every_parameter_with_its_default_and_comment(tmp_path):
    import papermill

    from flightpipe.runbook import NOTEBOOKS

    shown = flightpipe(tmp_path, "run", "daily", "--help")
    assert shown.returncode == 0, shown.stderr
    rows = {line.split()[0]: line for line in shown.stdout.split("parameters (-p NAME VALUE)")[1].splitlines()[1:]}
    for notebook in ("10_daily_ingest.ipynb", "20_validate_and_chart.ipynb"):
        for name, info in papermill.inspect_notebook(str(NOTEBOOKS / notebook)).items():
            assert name in rows, name
            assert rows[name].rstrip().endswith(info["help"].strip()), rows[name]
            if name != "run_date":
                assert f" {info['default']} " in f"{rows[name]} ", rows[name]
    assert rows["run_date"].split()[:2] == ["run_date", "(required)"]


def test_run_daily_without_run_date_is_refused_before_anything_starts(home):
    refused = flightpipe(home, "run", "daily")
    assert refused.returncode == 1
    assert refused.stderr == "runbook daily needs -p run_date VALUE (the day to ingest (YYYY-MM-DD))\n"
    assert not (home / "stack.pid").exists()  # no stack was started for a call that cannot run


def test_sql_errors_are_one_or_two_plain_lines(home, provisioned):
    no_stack = flightpipe(home, "sql", "SELECT 1")
    assert (no_stack.returncode, no_stack.stderr) == (1, "No local stack is running: start it with "
                                                         "`flightpipe local start`.\n")
    provisioned.copy_into(home)  # the default project, provisioned (tests/conftest.py): the start restores it
    assert flightpipe(home, "local", "start", "--port", str(free_port())).returncode == 0
    unprovisioned = flightpipe(home, "sql", "--project", "elsewhere", "SELECT 1")
    assert (unprovisioned.returncode, unprovisioned.stderr) == (
        1, "project 'elsewhere' is not provisioned on local (no warehouse secret): run `flightpipe run provision "
           "-p project elsewhere` first\n")
    typo = flightpipe(home, "sql", "SELEC 1")
    assert typo.returncode == 1 and typo.stdout == ""
    assert typo.stderr.startswith("Redshift refused the statement: ") and "SELEC" in typo.stderr
    assert len(typo.stderr.splitlines()) <= 2 and "\x1b" not in typo.stderr and "Traceback" not in typo.stderr


def test_ctrl_c_prints_interrupted_and_exits_130(tmp_path_factory, provisioned):
    import signal
    import time

    import boto3

    from flightpipe.names import Names

    home, port = tmp_path_factory.mktemp("interrupted"), free_port()
    provisioned.copy_into(home)  # the run's provisioned state (tests/conftest.py): the start restores it

    def client(service):
        return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")

    try:
        # The day's job run stays STARTING for a minute, so the run is surely still waiting on the chain when
        # the interrupt comes, however slowly a busy machine gets there.
        assert flightpipe(home, "local", "start", "--port", str(port),
                          FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS="60").returncode == 0
        names = Names.derive("flightpipe", "us-east-1", client("sts").get_caller_identity()["Account"])
        env = {**os.environ, "FLIGHTPIPE_HOME": str(home), "FLIGHTPIPE_RUNS": str(home / "runs")}
        env.pop("FLIGHTPIPE_LOCAL_ENDPOINT", None)
        # The command gets Ctrl-C as from a terminal's shell. A test run started in the background by a
        # non-interactive shell (`make test &`) ignores SIGINT, and an ignored signal stays ignored across exec
        # (POSIX, "Shell Command Language" 2.11), so the default disposition is put back for the child only.
        ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            proc = subprocess.Popen([sys.executable, "-m", "flightpipe.cli", "run", "daily", "-p", "run_date",
                                     "2013-01-01"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
        finally:
            signal.signal(signal.SIGINT, ignored)
        seen = ""
        while "…" not in seen:  # "[1/2] 10_daily_ingest.ipynb … ": the first notebook starts
            seen += proc.stdout.read(1)
            assert proc.poll() is None, seen
        # Its cells run: the day is uploaded, then the notebook waits for the chain (seconds more).
        deadline = time.monotonic() + 120
        s3 = client("s3")  # one client for the poll: creating one per check costs ~0.1 s of CPU each
        while not s3.list_objects_v2(Bucket=names.bucket, Prefix=names.raw_key("2013-01-01")).get("KeyCount"):
            assert time.monotonic() < deadline and proc.poll() is None, "the day was not uploaded"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole foreground group
        interrupted = time.monotonic()
        out, err = proc.communicate(timeout=120)
        logs = "".join(f"\n--- {log}\n{log.read_text()[-3000:]}" for log in (home / "runs").rglob("*.log"))
        assert proc.returncode == 130, (f"exit {proc.returncode} {time.monotonic() - interrupted:.1f} s after "
                                        f"SIGINT\nstdout: {seen}{out}\nstderr: {err}{logs}")
        assert err == "interrupted\n"
        from flightpipe.runbook import NOTEBOOKS

        assert not list(NOTEBOOKS.glob("*ipc*")), "IPC sockets belong in Jupyter's runtime folder"
    finally:
        flightpipe(home, "local", "stop")


def test_run_port_names_the_stack_that_already_runs_elsewhere(home):
    running, other = free_port(), free_port()
    assert flightpipe(home, "local", "start", "--port", str(running)).returncode == 0
    refused = flightpipe(home, "run", "provision", "--port", str(other))
    said = f"the local stack already runs at http://127.0.0.1:{running}: leave out --port, or stop it first with " \
           "`flightpipe local stop`\n"
    assert (refused.returncode, refused.stderr) == (1, said)
