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
