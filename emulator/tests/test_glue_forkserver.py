"""Job runs forked from the stack's warm Glue runtime behave as runs of a fresh `python -u script.py`."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from test_glue import log_text, make_job, runtime, wait_for_run, wait_until  # noqa: F401

from flightpipe_local import context, glue_jobs

PROBE_SCRIPT = """
import json, os, random, sys
print("PROBE " + json.dumps({
    "name": __name__,
    "argv": sys.argv[1:],
    "script": os.path.basename(sys.argv[0]),
    "cwd": os.path.basename(os.getcwd()),
    "path0": sys.path[0] == os.getcwd(),
    "marker": os.environ.get("FLIGHTPIPE_LOCAL_JOB_RUN_ID"),
    "endpoint": os.environ.get("AWS_ENDPOINT_URL") is not None,
    "stdin": sys.stdin.read(),
    "session_leader": os.getsid(0) == os.getpid(),
    "random": random.random(),
    "parent": os.getppid(),
}))
print("to stderr", file=sys.stderr)
sys.exit(int(os.environ.get("EXIT", "0")) or None)
"""


def probe(aws, make_job, monkeypatch, fork: str, exit_code: int = 0) -> tuple[dict, dict, str]:  # noqa: F811
    monkeypatch.setenv(glue_jobs.FORK_ENV, fork)
    monkeypatch.setenv("EXIT", str(exit_code))
    client = aws("glue")
    job = make_job(PROBE_SCRIPT)
    run_id = client.start_job_run(JobName=job, Arguments={"--day": "2013-01-01"})["JobRunId"]
    run = wait_for_run(client, job, run_id)
    output = log_text(aws, "/aws-glue/python-jobs/output", run_id)
    found = json.loads(output.split("PROBE ", 1)[1].splitlines()[0])
    assert found.pop("cwd") == run_id and found.pop("marker") == run_id and found.pop("script") == f"{job}.py"
    return found, run, log_text(aws, "/aws-glue/python-jobs/error", run_id)


@pytest.mark.parametrize("exit_code", [0, 3])
def test_a_forked_run_sees_what_a_fresh_interpreter_sees(aws, make_job, monkeypatch, exit_code):  # noqa: F811
    fresh, fresh_run, fresh_errors = probe(aws, make_job, monkeypatch, "0", exit_code)
    forked, forked_run, forked_errors = probe(aws, make_job, monkeypatch, "1", exit_code)
    assert fresh.pop("parent") == os.getpid()  # a fresh interpreter is the stack's child ...
    assert forked.pop("parent") != os.getpid()  # ... a forked run the warm runtime's
    assert fresh.pop("random") != forked.pop("random")
    assert forked == fresh == {"name": "__main__", "argv": ["--day", "2013-01-01"], "path0": True,
                               "endpoint": True, "stdin": "", "session_leader": True}
    assert forked_run["JobRunState"] == fresh_run["JobRunState"] == ("SUCCEEDED" if exit_code == 0 else "FAILED")
    assert forked_run.get("ErrorMessage") == fresh_run.get("ErrorMessage")
    if exit_code:
        assert forked_run["ErrorMessage"] == "Command failed with exit code 3"
    assert forked_errors == fresh_errors == "to stderr"


def test_a_forked_run_fails_with_the_traceback_a_fresh_one_prints(aws, make_job, monkeypatch):  # noqa: F811
    script = 'def load():\n    raise ValueError("boom")\nload()\n'
    tracebacks = {}
    for fork in ("0", "1"):
        monkeypatch.setenv(glue_jobs.FORK_ENV, fork)
        job = make_job(script)
        run_id = aws("glue").start_job_run(JobName=job)["JobRunId"]
        run = wait_for_run(aws("glue"), job, run_id)
        assert run["JobRunState"] == "FAILED" and run["ErrorMessage"] == "ValueError: boom"
        tracebacks[fork] = log_text(aws, "/aws-glue/python-jobs/error", run_id).replace(job, "JOB").replace(
            run_id, "RUN")
    assert tracebacks["1"] == tracebacks["0"]
    assert tracebacks["1"].splitlines()[1].endswith('JOB.py", line 3, in <module>')


def test_runs_of_different_jobs_draw_different_random_numbers(aws, make_job, monkeypatch):  # noqa: F811
    monkeypatch.setenv(glue_jobs.FORK_ENV, "1")
    script = "import numpy, random\nprint('DRAW', random.random(), numpy.random.random())\n"
    draws = []
    for _ in range(2):
        job = make_job(script)
        run_id = aws("glue").start_job_run(JobName=job)["JobRunId"]
        assert wait_for_run(aws("glue"), job, run_id)["JobRunState"] == "SUCCEEDED"
        draws.append(log_text(aws, "/aws-glue/python-jobs/output", run_id).split("DRAW ", 1)[1])
    assert draws[0] != draws[1] and draws[0].split()[1] != draws[1].split()[1]


def test_a_killed_warm_runtime_takes_its_runs_with_it(local_stack, runtime, tmp_path):  # noqa: F811
    """A warm runtime killed by a signal cannot report its runs' ends: their processes are killed and end -9."""
    ctx = context.current()
    server = glue_jobs.ForkServer(ctx, runtime.python)
    script = tmp_path / "sleep.py"
    script.write_text("import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    out, err = tmp_path / "out.log", tmp_path / "err.log"
    process = server.spawn([str(script)], tmp_path, dict(os.environ), out, err)
    wait_until(lambda: out.exists() and "up" in out.read_text())
    os.killpg(server.process.pid, signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL
    wait_until(lambda: not _alive(process.pid))


def test_closing_the_warm_runtime_kills_what_it_still_runs(local_stack, runtime, tmp_path):  # noqa: F811
    ctx = context.current()
    server = glue_jobs.ForkServer(ctx, runtime.python)
    script = tmp_path / "sleep.py"
    script.write_text("import time\nprint('up', flush=True)\ntime.sleep(60)\n")
    out = tmp_path / "out.log"
    process = server.spawn([str(script)], tmp_path, dict(os.environ), out, tmp_path / "err.log")
    wait_until(lambda: out.exists() and "up" in out.read_text())
    started = time.monotonic()
    server.close()
    assert server.process.returncode == 0 and time.monotonic() - started < 5
    wait_until(lambda: not _alive(process.pid))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead: it waits only for its parent to reap it
        return stat.read().split(") ", 1)[1][0] != "Z"


def test_a_bad_starting_time_setting_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv(glue_jobs.STARTING_SECONDS_ENV, "-1")
    with pytest.raises(ValueError, match="FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS='-1'"):
        glue_jobs.starting_seconds()
    monkeypatch.setenv(glue_jobs.STARTING_SECONDS_ENV, "0")
    assert glue_jobs.starting_seconds() == 0
    monkeypatch.delenv(glue_jobs.STARTING_SECONDS_ENV)
    assert glue_jobs.starting_seconds() == glue_jobs.STARTING_SECONDS

