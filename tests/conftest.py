"""What every core test shares: a short local crawl, and how the suite runs on several pytest-xdist workers
(`make test` runs `-n 4 --dist loadscope`).

Each xdist worker is a pytest session of its own, so it starts its own local stack (a free port, a state folder
under its own basetemp); tests on different workers never share a stack. The pipeline is provisioned once per
run (`provisioned`): a worker that runs an end-to-end test restores that state into its stack, as a restart
does. The tests of one tests/e2e/ file go to one worker together (one restored stack serves them all); every
other test is handed out on its own, to whichever worker is free.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from background_stack import BackgroundStack, flightpipe

from flightpipe_local.ports import free_port
from flightpipe_local.session import LOCAL_CREDENTIALS

# A local crawl stays RUNNING 1.5 s by default (an AWS crawl takes minutes), longer than the state machines'
# 1 s poll, so every execution polled the crawler twice. The tests use a crawl shorter than one poll: each
# execution still waits once in WaitForCrawler and then finds the crawl done. The test of the crawler poll loop
# (tests/pipeline/test_statemachine_jsonata.py) removes this setting to get the default crawl time back.
# Read by the stack at each crawl, and inherited by the stacks and kernels the tests start.
os.environ.setdefault("FLIGHTPIPE_LOCAL_CRAWL_SECONDS", "0.5")

_reliability_parts: list[dict] = []


@dataclass(frozen=True)
class Provisioned:
    """The default project provisioned once per test run by the `provision` runbook, on a background stack
    that was then stopped: its saved state (`snapshot`), the runbook's output folder and how long it took."""

    snapshot: Path
    run_dir: Path
    seconds: float

    def copy_into(self, home: Path) -> None:
        """`home` holds the provisioned state: a `flightpipe local start` there (or an in-process stack's
        `restart_from(home / "snapshot")`) restores it, as after a stop."""
        shutil.copytree(self.snapshot, home / "snapshot")


@pytest.fixture(scope="session")
def provisioned(tmp_path_factory) -> Provisioned:
    """One provisioning shared by every worker of the run (the first to ask builds it under a file lock, the
    others wait and reuse it): tests whose subject is not provisioning start from it instead of running the
    nine notebooks again (tests/test_runbooks_e2e.py and the notebooks themselves still provision)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # the run's folder, shared by workers
    folder = root / "provisioned"
    with open(root / "provisioned.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "done.json"
        if not done.exists():
            _provision(folder)
        built = json.loads(done.read_text())
        return Provisioned(snapshot=folder / "home" / "snapshot", run_dir=Path(built["run_dir"]),
                           seconds=built["seconds"])


@pytest.fixture
def provisioned_stack(tmp_path, monkeypatch, provisioned) -> BackgroundStack:
    """A background stack of its own (`flightpipe local start` in a home of its own), started from the run's
    provisioned state; this process, and the runbooks' kernels it starts, pointed at it."""
    home, port = tmp_path / "home", free_port()
    provisioned.copy_into(home)
    endpoint = f"http://127.0.0.1:{port}"
    for name, value in {"FLIGHTPIPE_HOME": str(home), "FLIGHTPIPE_LOCAL_ENDPOINT": endpoint,
                        "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                        **LOCAL_CREDENTIALS}.items():
        monkeypatch.setenv(name, value)
    stack = BackgroundStack(home, port)
    stack.start()
    yield stack
    flightpipe("local", "stop")


def _provision(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    home, runs = folder / "home", folder / "runs"
    home.mkdir(parents=True)
    env = {name: value for name, value in os.environ.items()
           if name not in ("FLIGHTPIPE_LOCAL_ENDPOINT", "AWS_ENDPOINT_URL")}  # this process's own stack, if any
    env.update(FLIGHTPIPE_HOME=str(home), FLIGHTPIPE_RUNS=str(runs))

    def run(*args: str) -> None:
        done = flightpipe(*args, env=env, timeout=600)
        assert done.returncode == 0, f"flightpipe {' '.join(args)}: {done.stderr[-2000:]}"

    run("local", "start", "--port", str(free_port()))
    try:
        began = time.monotonic()
        run("run", "provision", "-p", "poll_seconds", "1")
        seconds = time.monotonic() - began
    finally:
        run("local", "stop")
    [run_dir] = runs.iterdir()  # the runbook's own folder: executed notebooks and report
    (folder / "done.json").write_text(json.dumps({"seconds": round(seconds, 1), "run_dir": str(run_dir)}))


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` with our scopes: a tests/e2e/ file, or else the single test."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByEndToEndFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.startswith("tests/e2e/") else nodeid

    return ByEndToEndFile(config, log)


def pytest_testnodedown(node, error):
    """An xdist worker ended: keep the end-to-end figures it measured (see tests/e2e/conftest.py)."""
    part = getattr(node, "workeroutput", {}).get("reliability")
    if part:
        _reliability_parts.append(json.loads(part))


def pytest_sessionfinish(session):
    """On the xdist controller: write the workers' figures as one runs/reliability.json."""
    if _reliability_parts:
        from flightpipe.runbook import runs_dir

        path = runs_dir() / "reliability.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merge_reliability(_reliability_parts), indent=2, default=str) + "\n")


def merge_reliability(parts: list[dict]) -> dict:
    """One summary of several workers' summaries: their cases together and their counts added; the times are
    the longest worker's (each worker provisioned once and ran its cases while the others ran theirs)."""
    merged = dict(parts[0])
    for name, value in parts[0].items():
        if name == "cases":
            merged[name] = [case for part in parts for case in part[name]]
        elif name in ("provision_seconds", "cases_seconds"):
            merged[name] = max(part[name] for part in parts)
        elif isinstance(value, int):
            merged[name] = sum(part[name] for part in parts)
    merged["workers"] = len(parts)
    return merged
