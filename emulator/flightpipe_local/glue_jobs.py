"""Glue jobs that run, on the local stack: a Glue Python shell job is its script run in Glue's Python runtime.

`StartJobRun` returns a run in STARTING at once, as Glue does, and the run stays STARTING at least
`STARTING_SECONDS` (Glue provisions it first); a watcher thread then prepares the run (Glue's
Python 3.9 runtime from `glue_runtime.py`, the script downloaded from S3 — a missing script fails the run here,
after STARTING, with Glue's error), runs the script as a subprocess (RUNNING) and records how it ended. The script
gets the job's DefaultArguments merged with the run's Arguments and NonOverridableArguments as `--key value`, and
for a Spark (`glueetl`) job `--JOB_NAME`/`--JOB_RUN_ID`; a Python shell job gets no `--JOB_RUN_ID`, as on AWS.
boto3 inside the script is pointed at the emulator; stdout/stderr go to CloudWatch Logs
(`/aws-glue/python-jobs/output|error`, stream = run id), the output stream starting with one line naming the Python
and library versions; `Timeout` and `MaxConcurrentRuns` (every STARTING, RUNNING or STOPPING run counts) are
enforced; `BatchStopJobRun` (which moto lacks) is honoured.

Each run is a process of its own, forked from a warm interpreter of the stack (`glue_forkserver.py`) that has
imported the analytics libraries once: the run skips the 0.3–0.6 s interpreter start and imports, an emulator
cost, and keeps its own environment, arguments, folder, logs, exit status and process group (Timeout and
BatchStopJobRun kill it as before). `FLIGHTPIPE_LOCAL_GLUE_FORK=0` starts a fresh interpreter per run instead.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from moto.core.utils import utcnow
from moto.glue.exceptions import (
    AlreadyExistsException,
    ConcurrentRunsExceededException,
)
from moto.glue.models import FakeJob, FakeJobRun, GlueBackend
from moto.glue.responses import GlueResponse
from moto.s3.models import FakeKey, s3_backends

from flightpipe_local import context, glue_libraries, glue_runtime, settings
from flightpipe_local.cloudwatch import put_log_lines
from flightpipe_local.context import StackContext
from flightpipe_local.patches import Patch

log = logging.getLogger("flightpipe_local.glue")

# A job's Timeout is in minutes; tests shrink the minute to check TIMEOUT quickly.
SECONDS_PER_TIMEOUT_MINUTE = 60.0
# A run stays STARTING at least this long, even one that fails at once (its script missing): Glue provisions
# the run's capacity before it reads the script, so a GetJobRun right after StartJobRun sees STARTING and the
# run holds its MaxConcurrentRuns slot meanwhile ("AWS Glue job run statuses"; ExecutionProperty).
STARTING_SECONDS = 0.5
# ... unless FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS says otherwise (read at each run; the bench sets 0).
STARTING_SECONDS_ENV = "FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS"
# "0": every run starts a fresh interpreter instead of a fork of the stack's warm one.
FORK_ENV = "FLIGHTPIPE_LOCAL_GLUE_FORK"
FORK_SERVER_SCRIPT = Path(__file__).resolve().parent / "glue_forkserver.py"
# How often a job's watcher checks for exit/stop/timeout and ships new output to CloudWatch Logs.
JOB_POLL_SECONDS = 0.05
JOB_SITE_DIR = Path(__file__).resolve().parent / "glue_runtimes" / "site"
JOB_LOG_GROUP = "/aws-glue/python-jobs"
JOB_OUTPUT_LOG_GROUP = "/aws-glue/python-jobs/output"
JOB_ERROR_LOG_GROUP = "/aws-glue/python-jobs/error"

_active_runs: list = []
_registry_lock = threading.Lock()


_ACTIVE_STATES = ("STARTING", "RUNNING", "STOPPING")


class LocalJobRun(FakeJobRun):
    """A job run backed by a real process; its state is set by the process's watcher thread."""

    def __init__(self, job: FakeJob, **kwargs: Any):
        super().__init__(job_name=job.name, **kwargs)
        self._status = "STARTING"
        self.job = job
        self.glue_version = job.glue_version
        self.error_message: str | None = None
        self.completed_on = None
        self.started = time.monotonic()
        self.execution_seconds: int = 0
        self.process: subprocess.Popen | None = None
        self.stop_requested = False
        self.run_dir: Path | None = None
        self.log_offsets = {"stdout": 0, "stderr": 0}

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value
        self.modified_on = utcnow()

    def advance(self) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["LogGroupName"] = JOB_LOG_GROUP
        data["GlueVersion"] = self.glue_version or "3.0"
        running = self._status in _ACTIVE_STATES
        data["ExecutionTime"] = math.ceil(time.monotonic() - self.started) if running else self.execution_seconds
        data.pop("CompletedOn", None)
        if self.completed_on:
            data["CompletedOn"] = self.completed_on
        if self.error_message:
            data["ErrorMessage"] = self.error_message
        return data


def _start_job_run(
    self: FakeJob,
    allocated_capacity: int | None,
    max_capacity: float | None,
    timeout: int | None,
    worker_type: str | None,
    security_configuration: str | None,
    number_of_workers: int | None,
    notification_property: dict[str, int] | None,
    previous_run_id: str | None,
    arguments: dict[str, str] | None,
) -> str:
    active = sum(run.status in _ACTIVE_STATES for run in self.job_runs)
    if active >= (self.execution_property or {}).get("MaxConcurrentRuns", 1):
        raise ConcurrentRunsExceededException(f"Job with name {self.name} already running")
    run_arguments = {**self.default_arguments, **(arguments or {}), **(self.non_overridable_arguments or {})}
    run = LocalJobRun(
        self,
        job_run_id=previous_run_id,
        arguments=run_arguments,
        allocated_capacity=allocated_capacity or self.allocated_capacity,
        max_capacity=max_capacity or self.max_capacity,
        timeout=timeout or self.timeout,
        worker_type=worker_type or self.worker_type,
        security_configuration=security_configuration or self.security_configuration,
        number_of_workers=number_of_workers or self.number_of_workers,
        notification_property=notification_property or self.notification_property,
    )
    self.job_runs.append(run)
    _launch(run)
    return run.job_run_id


def job_command_line(
    python: str, script: Path, job_name: str, run_id: str, arguments: dict[str, str], command: str = "pythonshell"
) -> list[str]:
    """How Glue calls a job script: `script --key value …`; Spark jobs also get `--JOB_NAME n --JOB_RUN_ID jr_…`.

    Python shell jobs get no JOB_RUN_ID ("You are able to get RunID in a Spark Job but not Python Job",
    boto/boto3#3506), nor JOB_NAME: a script must not rely on either. Precedence of the arguments
    (NonOverridableArguments over the run's Arguments over DefaultArguments) follows "Using job parameters in
    AWS Glue jobs"; the merge happens in StartJobRun."""
    argv = [python, "-u", str(script)]
    for key, value in arguments.items():
        if key.startswith("--"):  # keys without dashes (e.g. `library-set`) configure Glue, not the script
            argv += [key, value]
    if command == "glueetl":
        argv += ["--JOB_NAME", job_name, "--JOB_RUN_ID", run_id]
    return argv


# Marks a job script's process with its run id (its environment, not its arguments: a Python shell job gets no
# JOB_RUN_ID), so that a new stack can find and stop the scripts a killed stack left running.
JOB_RUN_MARKER = "FLIGHTPIPE_LOCAL_JOB_RUN_ID"


def job_environment(ctx: StackContext, run_id: str, libraries: list[Path] = ()) -> dict[str, str]:
    """This process's environment minus every real AWS setting, plus the emulator's endpoint and
    placeholder credentials, so boto3/awswrangler in the script talk to the local stack only; `libraries`
    (the run's --extra-py-files) go on its path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env[JOB_RUN_MARKER] = run_id
    env.update(
        AWS_ENDPOINT_URL=ctx.endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=ctx.region,
        AWS_REGION=ctx.region,
        PYTHONUNBUFFERED="1",
        # Only the endpoint shim (older botocore ignores AWS_ENDPOINT_URL): nothing of this process's own path.
        PYTHONPATH=os.pathsep.join(map(str, [JOB_SITE_DIR, *libraries])),
    )
    env.pop("PYTHONHOME", None)
    return env


def _object_reader(run: LocalJobRun):
    """Reads an object's bytes from the stack's S3 as Glue does with the job's role: (bucket, key) -> bytes, or
    None when there is no such object."""
    s3 = s3_backends[run.job.backend.account_id]["global"]

    def read_object(bucket: str, key_name: str) -> bytes | None:
        key = s3.buckets[bucket].keys.get(key_name) if bucket in s3.buckets else None
        return key.value if isinstance(key, FakeKey) else None

    return read_object


def _fetch_script(run: LocalJobRun) -> Path:
    location = run.arguments.get("--scriptLocation") or (run.job.command or {}).get("ScriptLocation", "")
    if not location.startswith("s3://"):
        raise RuntimeError(f"Script location {location!r} is not an s3:// URI")
    bucket, _, key_name = location.removeprefix("s3://").partition("/")
    body = _object_reader(run)(bucket, key_name)
    if body is None:
        raise RuntimeError(f"Script not found at {location}")
    script = run.run_dir / Path(key_name).name
    script.write_bytes(body)
    return script


def _fetch_libraries(run: LocalJobRun, python: str) -> glue_libraries.Libraries:
    try:
        return glue_libraries.prepare(run.arguments or {}, _object_reader(run), run.run_dir, python)
    except glue_libraries.LibraryFailed as exc:
        (run.run_dir / "stderr.log").write_text(exc.detail + "\n")
        raise


def _launch(run: LocalJobRun) -> None:
    """The run is STARTING; prepare and run it in a thread of its own, as Glue does after StartJobRun returns."""
    with _registry_lock:
        _active_runs.append(run)
    # The thread works for the stack that received StartJobRun (the request's context goes with it).
    work = contextvars.copy_context()
    threading.Thread(target=work.run, args=(_run, run), name=f"glue-job-{run.job_run_id[:11]}", daemon=True).start()


def _run(run: LocalJobRun) -> None:
    try:
        _start_process(run)
        if run.process is not None:
            _watch(run)
    finally:
        with _registry_lock:
            if run in _active_runs:
                _active_runs.remove(run)


def _start_process(run: LocalJobRun) -> None:
    ctx = _require_ctx()
    run.run_dir = ctx.state_dir / "glue" / "jobs" / run.job_name / run.job_run_id
    run.run_dir.mkdir(parents=True, exist_ok=True)
    for group in (JOB_OUTPUT_LOG_GROUP, JOB_ERROR_LOG_GROUP):
        put_log_lines(run.job.backend, group, run.job_run_id, [])  # streams exist from the start
    starting = starting_seconds()
    while not run.stop_requested and (left := run.started + starting - time.monotonic()) > 0:
        time.sleep(min(left, JOB_POLL_SECONDS))
    try:
        runtime = glue_runtime.resolve()
        script = _fetch_script(run)
        libraries = _fetch_libraries(run, runtime.python)
        command = (run.job.command or {}).get("Name", "pythonshell")
        argv = job_command_line(runtime.python, script, run.job_name, run.job_run_id, run.arguments or {}, command)
        if run.stop_requested:
            _finish(run, "STOPPED", None)
            return
        with open(run.run_dir / "stdout.log", "wb") as out, open(run.run_dir / "stderr.log", "wb") as err:
            out.write(runtime.banner.encode() + b"\n")  # the first line of the run's output log
            out.write("".join(line + "\n" for line in libraries.log_lines).encode())  # then its --extra-py-files
            out.flush()
            env = job_environment(ctx, run.job_run_id, libraries.paths)
            server = fork_server(ctx, runtime.python)
            if server is not None:
                try:
                    run.process = server.spawn(argv[2:], run.run_dir, env, run.run_dir / "stdout.log",
                                               run.run_dir / "stderr.log")
                except (OSError, RuntimeError) as exc:  # the warm runtime just ended: a fresh interpreter
                    log.warning("Glue job run %s starts a fresh interpreter: %s", run.job_run_id, exc)
            if run.process is None:
                run.process = subprocess.Popen(
                    argv, cwd=run.run_dir, env=env, stdout=out, stderr=err, start_new_session=True
                )
    except Exception as exc:  # the run exists (it has an id) and fails after STARTING, as on AWS
        with open(run.run_dir / "stderr.log", "a") as err:
            err.write(f"{exc}\n")
        _ship_job_logs(run, final=True)
        _finish(run, "FAILED", str(exc))
        return
    if run.status == "STARTING":
        run.status = "RUNNING"


def starting_seconds() -> float:
    """How long a run stays STARTING at least: FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS, or STARTING_SECONDS."""
    return settings.seconds(STARTING_SECONDS_ENV, STARTING_SECONDS, "0.5")


class ForkedProcess:
    """A job run's process forked by the stack's `ForkServer`: what `_watch` and `_kill` use of a Popen."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"job run process {self.pid}", timeout)
        return self.returncode

    def ended(self, returncode: int) -> None:
        self.returncode = returncode
        self._ended.set()


# The marker value of a forked run's environment as /proc shows it (the server's, fixed at its exec): such a
# process is a job run's when it sits in a run's folder (`persistence.kill_orphaned_job_processes`).
FORKED_MARKER = "forked"


class ForkServer:
    """The stack's warm Glue runtime (`glue_forkserver.py`): forks one process per job run."""

    def __init__(self, ctx: StackContext, python: str):
        folder = ctx.state_dir / "glue"
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._waiting: dict[int, dict] = {}  # request id -> {"event", "pid" | "error", "process"}
        self._next_id = 0
        with open(folder / "forkserver.log", "ab") as log_file:
            self.process = subprocess.Popen(
                [python, "-u", str(FORK_SERVER_SCRIPT)], cwd=folder, env=job_environment(ctx, FORKED_MARKER),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, start_new_session=True,
            )
        ready = self.process.stdout.readline()
        if not ready:
            self.process.wait()
            raise RuntimeError(f"the warm Glue runtime did not start (exit {self.process.returncode}; "
                               f"see {folder / 'forkserver.log'})")
        threading.Thread(target=self._read, name="glue-forkserver", daemon=True).start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, argv: list[str], cwd: Path, env: dict[str, str], stdout: Path, stderr: Path) -> ForkedProcess:
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
            waiting = self._waiting[request_id] = {"event": threading.Event()}
            line = json.dumps({"id": request_id, "argv": argv, "cwd": str(cwd), "env": env,
                               "stdout": str(stdout), "stderr": str(stderr)})
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
        waiting["event"].wait()
        if "pid" not in waiting:
            self._waiting.pop(request_id, None)
            raise RuntimeError(f"could not start the job process: {waiting.get('error', 'runtime ended')}")
        return waiting["process"]

    def _read(self) -> None:
        for line in self.process.stdout:
            message = json.loads(line)
            waiting = self._waiting.get(message["id"])
            if waiting is None:
                continue
            if "pid" in message:
                waiting["pid"] = message["pid"]
                waiting["process"] = ForkedProcess(message["pid"])
                waiting["event"].set()
            elif "error" in message:
                waiting["error"] = message["error"]
                waiting["event"].set()
            elif "exit" in message:
                self._waiting.pop(message["id"], None)
                waiting["process"].ended(message["exit"])
        # The server is gone (killed): its runs can no longer be reaped through it; kill and end them.
        for waiting in list(self._waiting.values()):
            process = waiting.get("process")
            if process is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.ended(-signal.SIGKILL)
            waiting["event"].set()
        self._waiting.clear()

    def close(self) -> None:
        """Closing its stdin ends the server (and kills any process it still has)."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


_servers: dict[Path, ForkServer] = {}
_open_stacks: set[Path] = set()  # state folders of the stacks installed and not shut down
_servers_lock = threading.Lock()


def fork_server(ctx: StackContext, python: str) -> ForkServer | None:
    """The stack's warm runtime, started by the stack's first job run (a stack that runs no job pays nothing);
    None when FLIGHTPIPE_LOCAL_GLUE_FORK=0 or it cannot start: runs then start a fresh interpreter each."""
    if os.environ.get(FORK_ENV, "1").strip() == "0":
        return None
    with _servers_lock:
        if ctx.state_dir not in _open_stacks:
            return None
        server = _servers.get(ctx.state_dir)
        if server is not None and server.alive():
            return server
        try:
            server = _servers[ctx.state_dir] = ForkServer(ctx, python)
        except (OSError, RuntimeError) as exc:
            log.warning("Glue job runs start a fresh interpreter each: %s", exc)
            _servers.pop(ctx.state_dir, None)
            return None
        return server


def _watch(run: LocalJobRun) -> None:
    """Reap the process; enforce Timeout and BatchStopJobRun; ship its output to CloudWatch Logs."""
    proc = run.process
    deadline = run.started + run.timeout * SECONDS_PER_TIMEOUT_MINUTE if run.timeout else None
    final = None
    while True:
        try:
            proc.wait(timeout=JOB_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            pass
        _ship_job_logs(run)
        if run.stop_requested:
            final = ("STOPPED", None)
        elif deadline and time.monotonic() >= deadline:
            final = ("TIMEOUT", f"Job run timed out after {run.timeout} minute(s) (Timeout)")
        if final:
            _kill(proc)
            break
    _ship_job_logs(run, final=True)
    if final:
        _finish(run, *final)
    elif proc.returncode == 0:
        _finish(run, "SUCCEEDED", None)
    else:
        stderr = (run.run_dir / "stderr.log").read_text(errors="replace")
        _finish(run, "FAILED", error_message_from_stderr(stderr, proc.returncode))


def _kill(proc: subprocess.Popen | ForkedProcess) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the script's own children die with it
    except ProcessLookupError:
        pass
    proc.wait()


def _finish(run: LocalJobRun, state: str, error: str | None) -> None:
    global _runs_ended
    run.execution_seconds = math.ceil(time.monotonic() - run.started)
    run.error_message = error
    run.completed_on = utcnow()
    run.status = state
    with _run_ended:
        _runs_ended += 1
        _run_ended.notify_all()


# Counts the job runs that ended, so that a waiter (a Step Functions `.sync` task) looks again at once.
_runs_ended = 0
_run_ended = threading.Condition()


def runs_ended() -> int:
    return _runs_ended


def wait_for_a_run_to_end(seen: int, timeout: float) -> None:
    """Return once a run ends after `runs_ended()` was `seen`, or after `timeout` seconds."""
    with _run_ended:
        _run_ended.wait_for(lambda: _runs_ended != seen, timeout)


def error_message_from_stderr(stderr: str, returncode: int) -> str:
    """The exception line of the script's last traceback (e.g. `ValueError: boom`), else the exit code."""
    lines = stderr.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        for i in range(starts[-1] + 1, len(lines)):
            if lines[i] and not lines[i][0].isspace():
                return "\n".join(lines[i:]).strip()
    return f"Command failed with exit code {returncode}"


def _ship_job_logs(run: LocalJobRun, final: bool = False) -> None:
    for stream, group in (("stdout", JOB_OUTPUT_LOG_GROUP), ("stderr", JOB_ERROR_LOG_GROUP)):
        if not (run.run_dir / f"{stream}.log").exists():
            continue
        with open(run.run_dir / f"{stream}.log", "rb") as f:
            f.seek(run.log_offsets[stream])
            chunk = f.read()
        if not final:
            chunk = chunk[: chunk.rfind(b"\n") + 1]  # ship whole lines only while running
        if chunk:
            run.log_offsets[stream] += len(chunk)
            lines = chunk.decode(errors="replace").splitlines()
            put_log_lines(run.job.backend, group, run.job_run_id, lines)


def _batch_stop_job_run(self: GlueBackend, job_name: str, run_ids: list[str]) -> tuple[list, list]:
    job = self.get_job(job_name)
    stopped, errors = [], []
    for run_id in run_ids:
        run = next((r for r in job.job_runs if r.job_run_id == run_id), None)
        if run is None:
            detail = {"ErrorCode": "EntityNotFoundException", "ErrorMessage": f"Job run {run_id} not found."}
        elif run.status not in ("STARTING", "RUNNING"):
            detail = {"ErrorCode": "InvalidInputException", "ErrorMessage": f"Job run is in state {run.status}"}
        else:
            run.stop_requested = True
            run.status = "STOPPING"
            stopped.append({"JobName": job_name, "JobRunId": run_id})
            continue
        errors.append({"JobName": job_name, "JobRunId": run_id, "ErrorDetail": detail})
    return stopped, errors


def _response_batch_stop_job_run(self: GlueResponse) -> Any:
    from moto.core.responses import ActionResult

    stopped, errors = self.glue_backend.batch_stop_job_run(self._get_param("JobName"), self._get_param("JobRunIds"))
    return ActionResult({"SuccessfulSubmissions": stopped, "Errors": errors})


# CreateJob refuses an existing name, as on AWS (moto silently replaces the job and loses its runs);
# UpdateJob (which moto lacks) overwrites the definition completely, as AWS documents, and keeps the runs.
_JOB_FIELDS = {
    "Role": "role",
    "Description": "description",
    "LogUri": "log_uri",
    "ExecutionProperty": "execution_property",
    "Command": "command",
    "DefaultArguments": "default_arguments",
    "NonOverridableArguments": "non_overridable_arguments",
    "Connections": "connections",
    "MaxRetries": "max_retries",
    "AllocatedCapacity": "allocated_capacity",
    "Timeout": "timeout",
    "MaxCapacity": "max_capacity",
    "SecurityConfiguration": "security_configuration",
    "NotificationProperty": "notification_property",
    "GlueVersion": "glue_version",
    "NumberOfWorkers": "number_of_workers",
    "WorkerType": "worker_type",
    "ExecutionClass": "execution_class",
    "SourceControlDetails": "source_control_details",
    "CodeGenConfigurationNodes": "code_gen_configuration_nodes",
}
_JOB_FIELD_DEFAULTS = {"execution_property": {}, "default_arguments": {}, "execution_class": "STANDARD"}
_moto_create_job = GlueBackend.create_job


def _create_job(self: GlueBackend, name: str, *args: Any, **kwargs: Any) -> Any:
    if name in self.jobs:
        raise AlreadyExistsException(f"Job {name}")
    return _moto_create_job(self, name, *args, **kwargs)


def _response_update_job(self: GlueResponse) -> Any:
    from moto.core.responses import ActionResult

    name = self._get_param("JobName")
    job = self.glue_backend.get_job(name)
    update = self._get_param("JobUpdate") or {}
    for param, attribute in _JOB_FIELDS.items():
        setattr(job, attribute, update.get(param, _JOB_FIELD_DEFAULTS.get(attribute)))
    job.last_modified_on = utcnow()
    return ActionResult({"JobName": name})


def _prepare_runtime() -> None:
    try:
        runtime = glue_runtime.resolve()
    except Exception as exc:  # reported again by every job run that needs it
        log.error("Glue runtime unavailable: %s", exc)
        return
    log.info("%s", runtime.banner)


def _require_ctx() -> StackContext:
    return context.current()


def patches() -> list[Patch]:
    """Everything this module changes in moto (applied and reverted by `flightpipe_local.patches`)."""
    return [
        Patch(FakeJob, "start_job_run", _start_job_run),
        Patch(GlueBackend, "create_job", _create_job),
        Patch.new(GlueResponse, "update_job", _response_update_job),
        Patch.new(GlueBackend, "batch_stop_job_run", _batch_stop_job_run),
        Patch.new(GlueResponse, "batch_stop_job_run", _response_batch_stop_job_run),
    ]


def install(ctx: StackContext) -> None:
    (ctx.state_dir / "glue").mkdir(parents=True, exist_ok=True)
    # Prepare Glue's runtime now (built once per machine), so that the first job run does not wait for it; a
    # missing Python 3.9 is reported in the stack's log here.
    with _servers_lock:
        _open_stacks.add(ctx.state_dir)
    starting_seconds()  # a bad FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS stops the stack from starting, with the reason
    threading.Thread(target=_prepare_runtime, name="glue-runtime", daemon=True).start()


def shutdown(ctx: StackContext | None = None) -> None:
    """Kill the stack's running job processes: their runs end STOPPED."""
    state_dir = (ctx or context.current()).state_dir
    with _registry_lock:
        runs = [run for run in _active_runs if run.run_dir and run.run_dir.is_relative_to(state_dir)]
    for run in runs:
        run.stop_requested = True
    for run in runs:
        if run.process and run.process.poll() is None:
            _kill(run.process)
    with _servers_lock:
        _open_stacks.discard(state_dir)
        server = _servers.pop(state_dir, None)
    if server is not None:
        server.close()
