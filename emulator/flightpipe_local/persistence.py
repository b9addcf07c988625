"""The local stack's state on disk, so that it survives `flightpipe local stop` + `start` and a crash.

A *snapshot* is one consistent point: every moto backend in use (S3 with every object version, IAM, Glue,
Step Functions, EventBridge, SNS/SQS with their messages, Secrets Manager, CloudTrail, CloudWatch Logs …)
pickled together, plus a copy of every warehouse DuckDB file, taken while

- the request gate is closed (no API call half done: a call is in the snapshot whole or not at all), and
- every warehouse is locked and checkpointed (no load transaction half done),

so a snapshot never holds a warehouse row whose source object, job run or execution is missing. The stack takes
one every few seconds when something changed, and a last one when it stops; a start restores the newest one,
warehouse included. Whatever happened after it (a crash loses at most one period) is gone as a whole.

Layout under `<state_dir>/snapshot/`: `objects/<sha256>` holds S3 object bodies, written once and shared by all
generations (pickling them again every few seconds would cost the whole bucket each time); `<generation>/`
holds `backends.pickle`, `warehouse/…` and `manifest.json` (written last); `current` names the complete
generation to restore and is replaced atomically.

Executions, Glue job runs and crawls that were running in the snapshot cannot go on after a restart (their
threads and processes are gone): a restore ends them FAILED with a reason, so the job's claims on the load
ledger become retryable, as they do after a job run dies on AWS.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib
import io
import json
import logging
import os
import pickle
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from moto.core.base_backend import BackendDict

from flightpipe_local.context import StackContext

log = logging.getLogger("flightpipe_local.persistence")

SNAPSHOT_DIR = "snapshot"
WAREHOUSE_DIR = "warehouse"
CHUNK = 1 << 20
INTERRUPTED_ERROR = "Local.StackStopped"
INTERRUPTED_CAUSE = "The local stack stopped while this {what} was running; it ended with the stack. Run it again."


class SavedStateError(RuntimeError):
    pass


# ---------------------------------------------------------------- the request gate


class RequestGate:
    """WSGI middleware: API calls pass while the gate is open; `closed()` waits for the calls in progress
    to finish and holds new ones until the snapshot is written.

    Calls that may wait for news without changing anything are let through: SQS long polls (ReceiveMessage
    with WaitTimeSeconds, up to 20 s) and the Data API's reads of a statement (DescribeStatement and
    GetStatementResult with WaitTimeSeconds, up to 30 s). Held, they would hold every snapshot, and every other
    client behind it, that long."""

    WAITING_READS = ("AmazonSQS.ReceiveMessage", "RedshiftData.DescribeStatement", "RedshiftData.GetStatementResult",
                     "RedshiftData.GetStatementResultV2")

    def __init__(self, app):
        self.app = app
        self.calls = 0  # API calls so far: a snapshot is due only when the count moved
        self._active = 0
        self._closing = False
        self._sealed = False  # the last snapshot is taken: no call may change the state any more
        self._cond = threading.Condition()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "") in self.WAITING_READS:
            return self.app(environ, start_response)
        with self._cond:
            self._cond.wait_for(lambda: not self._closing or self._sealed)
            if self._sealed:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"The local stack is stopping."]
            self._active += 1
            self.calls += 1
        try:
            return self.app(environ, start_response)
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def closed(self, timeout: float, seal: bool = False):
        """Yield True once no call is in progress (False if calls still run after `timeout` seconds).
        With `seal`, the gate stays shut afterwards: later calls get HTTP 503 (the stack is stopping)."""
        with self._cond:
            self._closing = True
            idle = self._cond.wait_for(lambda: self._active == 0, timeout)
        try:
            yield idle
        finally:
            with self._cond:
                self._closing = False
                self._sealed = self._sealed or seal
                self._cond.notify_all()


# ---------------------------------------------------------------- pickling moto's backends


def _backend_dicts() -> dict[tuple[str, str], BackendDict]:
    """Every BackendDict in use, by the module attribute that holds it (`moto.s3.models`, `s3_backends`)."""
    found = {}
    for backends in list(BackendDict._instances):
        module = importlib.import_module(backends.backend.__module__)
        for name, value in vars(module).items():
            if value is backends:
                found[module.__name__, name] = backends
                break
        else:
            log.warning("cannot save the %s service: its backends have no module name", backends.service_name)
    return found


def _new_lock():
    return threading.Lock()


def _new_rlock():
    return threading.RLock()


def _nothing():
    return None


def _versioned_keys(lists: list[tuple[str, list]]):
    from moto.s3.utils import _VersionedKeyStore

    keys = _VersionedKeyStore()
    for name, versions in lists:
        dict.__setitem__(keys, name, versions)
    return keys


_LOCK_TYPES = {type(threading.Lock()): _new_lock, type(threading.RLock()): _new_rlock}
_LIVE_ONLY = (threading.Thread, subprocess.Popen, queue.Queue, io.IOBase, tempfile.SpooledTemporaryFile)


class _FrozenHistory:
    """Stands in for a Step Functions execution's worker after a restore: the history it recorded."""

    def __init__(self, events: list[dict]):
        self.events = events
        self.env = self  # moto reads `execution.exec_worker.env.event_manager.get_event_history()`
        self.event_manager = self

    def get_event_history(self) -> list[dict]:
        return list(self.events)

    def stop(self, **_: Any) -> None:
        pass


def _frozen_history(events: list[dict]) -> _FrozenHistory:
    return _FrozenHistory(events)


class _Pickler(pickle.Pickler):
    """Pickles backends as data: S3 bodies go to the object store, live members (locks, threads, processes,
    an execution's interpreter) become fresh locks, None, or the execution's recorded history."""

    def __init__(self, file, objects: ObjectStore, backends: dict[tuple[str, str], BackendDict]):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.objects = objects
        self._backend_names = {id(b): name for name, b in backends.items()}

    def persistent_id(self, obj):
        if isinstance(obj, BackendDict):  # module singletons: refer to them, never copy them
            return self._backend_names.get(id(obj))
        return None

    def reducer_override(self, obj):
        from moto.s3.models import FakeKey
        from moto.s3.utils import _VersionedKeyStore
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

        kind = type(obj)
        if kind is _VersionedKeyStore:  # a bucket's keys: its `items()` shows the latest versions only
            return _versioned_keys, (list(obj.lists()),)
        if kind in _LOCK_TYPES:
            return _LOCK_TYPES[kind], ()
        if isinstance(obj, FakeKey):
            state = {k: v for k, v in obj.__dict__.items() if k not in ("_value_buffer", "lock", "_fp_object")}
            return _restore_key, (self.objects.save(obj), state)
        if isinstance(obj, ExecutionWorker):
            env = obj.env
            events = env.event_manager.get_event_history() if env is not None else []
            return _frozen_history, (events,)
        if isinstance(obj, (threading.Condition, threading.Event, threading.Semaphore)):
            return kind, ()
        if isinstance(obj, _LIVE_ONLY):
            return _nothing, ()
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, objects: ObjectStore):
        super().__init__(file)
        self.objects = objects

    def persistent_load(self, pid):
        module, name = pid
        return getattr(importlib.import_module(module), name)


_restoring: ObjectStore | None = None  # the store `_restore_key` reads bodies from during a restore


def _restore_key(digest: str, state: dict):
    from moto.s3.models import FakeKey

    key = FakeKey.__new__(FakeKey)
    key.__dict__.update(state)
    key.lock = threading.Lock()
    key._value_buffer = tempfile.SpooledTemporaryFile(max_size=key._max_buffer_size)
    _restoring.load_into(digest, key._value_buffer)
    key._fp_object = (id(key._value_buffer), key.contentsize, digest)
    return key


class ObjectStore:
    """S3 object bodies on disk by content (sha256): each body is written once, whatever the snapshots."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.used: set[str] = set()

    def save(self, key) -> str:
        cached = getattr(key, "_fp_object", None)
        if cached and cached[:2] == (id(key._value_buffer), key.contentsize) and (self.folder / cached[2]).exists():
            self.used.add(cached[2])
            return cached[2]
        digest, tmp = hashlib.sha256(), None
        with key.lock, tempfile.NamedTemporaryFile(dir=self.folder, prefix=".tmp-", delete=False) as out:
            tmp = Path(out.name)
            key._value_buffer.seek(0)
            while block := key._value_buffer.read(CHUNK):  # streamed: a body is never whole in memory
                digest.update(block)
                out.write(block)
        name = digest.hexdigest()
        if (self.folder / name).exists():
            tmp.unlink()
        else:
            os.replace(tmp, self.folder / name)
        key._fp_object = (id(key._value_buffer), key.contentsize, name)
        self.used.add(name)
        return name

    def load_into(self, digest: str, buffer) -> None:
        with open(self.folder / digest, "rb") as src:
            shutil.copyfileobj(src, buffer, CHUNK)

    def forget_unused(self) -> None:
        for path in self.folder.iterdir() if self.folder.exists() else []:
            if path.name not in self.used:
                path.unlink(missing_ok=True)


# ---------------------------------------------------------------- snapshots


class Snapshots:
    """Takes and restores snapshots of one stack (see the module's docstring)."""

    def __init__(self, ctx: StackContext):
        self.ctx = ctx
        self.state_dir = Path(ctx.state_dir)
        self.root = self.state_dir / SNAPSHOT_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # it holds what the stack holds: secrets' values, the warehouse's rows
        self.objects = ObjectStore(self.root / "objects")
        self._lock = threading.Lock()  # one snapshot at a time

    @property
    def current(self) -> Path | None:
        pointer = self.root / "current"
        if not pointer.exists():
            return None
        generation = self.root / pointer.read_text().strip()
        return generation if (generation / "manifest.json").exists() else None

    def manifest(self) -> dict | None:
        current = self.current
        return json.loads((current / "manifest.json").read_text()) if current else None

    def take(self, gate: RequestGate | None, wait_seconds: float = 3.0, last: bool = False) -> bool:
        """Write a new generation; False if API calls did not pause within `wait_seconds` (try again later).
        `last`: the stack stops; no call changes anything after this snapshot."""
        from flightpipe_local.redshift import data_api

        shut = gate.closed(wait_seconds, seal=last) if gate else contextlib.nullcontext(True)
        with self._lock, shut as idle:
            if not idle and not last:
                return False
            _drain_cloudtrail(self.ctx)
            began = time.monotonic()
            generation = self.root / f"{time.time_ns():020d}"
            generation.mkdir(parents=True)
            self.objects.used = set()
            warehouse = self.state_dir / WAREHOUSE_DIR
            with data_api.frozen_databases(self.ctx):  # open ones checkpointed; none opens meanwhile
                self._pickle_backends(generation / "backends.pickle")
                for path in warehouse.rglob("*.duckdb") if warehouse.exists() else []:
                    target = generation / WAREHOUSE_DIR / path.relative_to(warehouse)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
            manifest = {"taken_at": dt.datetime.now(dt.UTC).isoformat(), "calls": gate.calls if gate else None,
                        "seconds": round(time.monotonic() - began, 3)}
            (generation / "manifest.json").write_text(json.dumps(manifest))
            _write_atomically(self.root / "current", generation.name)
            self._forget_older(generation)
            return True

    def _pickle_backends(self, path: Path) -> None:
        backends = _backend_dicts()
        state = {name: {account: dict(regions) for account, regions in b.items()} for name, b in backends.items()}
        for attempt in range(5):  # a background thread (an execution, a job watcher) may change a dict meanwhile
            try:
                with open(path, "wb") as out:
                    _Pickler(out, self.objects, backends).dump(state)
                return
            except RuntimeError as exc:
                if "changed size during iteration" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.01)

    def _forget_older(self, newest: Path) -> None:
        """`current` names `newest` now: older generations, and bodies only they used, are no longer needed."""
        for old in self.root.iterdir():
            if old.is_dir() and old.name.isdigit() and old != newest:
                shutil.rmtree(old, ignore_errors=True)
        self.objects.forget_unused()

    def restore(self) -> dict | None:
        """Load the newest snapshot into moto and the warehouse folder; its manifest, or None if none."""
        global _restoring
        current = self.current
        warehouse = self.state_dir / WAREHOUSE_DIR
        if current is None:
            if warehouse.exists():  # its sources (S3, ledger runs) were never saved: it cannot stand alone
                log.warning("no saved state to go with %s: removing it", warehouse)
                shutil.rmtree(warehouse)
            return None
        shutil.rmtree(warehouse, ignore_errors=True)
        if (current / WAREHOUSE_DIR).exists():
            shutil.copytree(current / WAREHOUSE_DIR, warehouse)
        _restoring = self.objects
        try:
            with open(current / "backends.pickle", "rb") as src:
                state = _Unpickler(src, self.objects).load()
        except Exception as exc:  # e.g. saved by another version of the emulator
            raise SavedStateError(
                f"the saved state in {current} cannot be read ({type(exc).__name__}: {exc}); "
                "run `flightpipe local start --fresh` to discard it and start empty"
            ) from None
        finally:
            _restoring = None
        for (module, name), accounts in state.items():
            backends = getattr(importlib.import_module(module), name)
            for account, regions in accounts.items():
                for region, backend in regions.items():
                    dict.__setitem__(backends[account], region, backend)
        ended = end_interrupted_work()
        manifest = self.manifest()
        log.info("restored the state saved at %s (%s)", manifest["taken_at"],
                 ", ".join(f"{n} {what}" for what, n in ended.items()) or "nothing was running")
        return manifest


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _drain_cloudtrail(ctx: StackContext) -> None:
    """Hand every data event the stack recorded to EventBridge first, so the snapshot has the executions they start."""
    from flightpipe_local import cloudtrail

    with contextlib.suppress(TimeoutError):
        cloudtrail.drain(timeout=5, ctx=ctx)


# ---------------------------------------------------------------- after a restore


def end_interrupted_work(now: dt.datetime | None = None) -> dict[str, int]:
    """Executions, job runs and crawls that were running when the state was saved end FAILED with a reason.

    Glue documents FAILED for a run that "terminated with an unknown exit code" (AWS Glue job run statuses,
    https://docs.aws.amazon.com/glue/latest/dg/job-run-statuses.html)."""
    from moto.glue.models import glue_backends
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from flightpipe_local.glue_crawler import LocalCrawl
    from flightpipe_local.glue_jobs import LocalJobRun

    now = now or dt.datetime.now(dt.UTC)
    ended = {"executions": 0, "job runs": 0, "crawls": 0}
    for _, _, backend in stepfunctions_parser_backends.iter_backends():
        for execution in (e for machine in backend.state_machines for e in machine.executions):
            if getattr(execution, "exec_status", None) == ExecutionStatus.RUNNING:
                cause = INTERRUPTED_CAUSE.format(what="execution")
                execution.exec_status = ExecutionStatus.FAILED
                execution.stop_date = now
                execution.error, execution.cause = INTERRUPTED_ERROR, cause
                history = execution.exec_worker
                if isinstance(history, _FrozenHistory):
                    last = history.events[-1]["id"] if history.events else 0
                    history.events.append({
                        "timestamp": now, "type": "ExecutionFailed", "id": last + 1, "previousEventId": last,
                        "executionFailedEventDetails": {"error": INTERRUPTED_ERROR, "cause": cause},
                    })
                ended["executions"] += 1
    for _, _, backend in glue_backends.iter_backends():
        for job in backend.jobs.values():
            for run in job.job_runs:
                if isinstance(run, LocalJobRun) and run.status in ("STARTING", "RUNNING", "STOPPING"):
                    run.error_message = INTERRUPTED_CAUSE.format(what="job run")
                    run.completed_on = now
                    run.status = "FAILED"
                    ended["job runs"] += 1
        for crawler in backend.crawlers.values():
            for crawl in crawler.crawls:
                if isinstance(crawl, LocalCrawl) and not crawl.finished:
                    crawl.error_message = INTERRUPTED_CAUSE.format(what="crawl")
                    crawl.end_time = now
                    crawl.status = "FAILED"
                    ended["crawls"] += 1
    return {what: n for what, n in ended.items() if n}


def kill_orphaned_job_processes(state_dir: Path) -> list[int]:
    """Glue job scripts of a killed stack keep running (they have their own session): kill them before a new
    stack answers, or one could finish its load after its run was restored as FAILED. A job script runs in its
    run's folder `<state_dir>/glue/jobs/<job>/<run id>` with that run id in its environment
    (`glue_jobs.JOB_RUN_MARKER`; a run forked from the warm runtime shows `forked`): both must match, so a shell
    that merely sits in that folder is left alone (procfs only: Linux)."""
    from flightpipe_local.glue_jobs import FORKED_MARKER, JOB_RUN_MARKER

    marker = f"{JOB_RUN_MARKER}=".encode()
    jobs = (Path(state_dir) / "glue" / "jobs").resolve()
    killed = []
    proc = Path("/proc")
    if not proc.exists():
        return killed
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        run_id = next((v[len(marker):].decode(errors="replace") for v in environment if v.startswith(marker)), None)
        # a run forked from the stack's warm runtime shows the server's marker (`glue_jobs.FORKED_MARKER`)
        forked = run_id == FORKED_MARKER and cwd.parent.parent == jobs
        if cwd.is_relative_to(jobs) and (cwd.name == run_id or forked):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed


def forget_state(state_dir: Path) -> None:
    """`flightpipe local start --fresh`: drop the saved state and the warehouse (the stack must be stopped)."""
    state_dir = Path(state_dir)
    for name in (SNAPSHOT_DIR, WAREHOUSE_DIR, "glue"):
        shutil.rmtree(state_dir / name, ignore_errors=True)


class Saver:
    """Takes a snapshot every `period` seconds when API calls happened since the last one. The gate is shut
    while a snapshot is written, so the wait grows with the snapshot's duration: calls are held at most
    1/`MAX_HELD_SHARE` of the time however large the state grows."""

    MAX_HELD_SHARE = 10

    def __init__(self, snapshots: Snapshots, gate: RequestGate, period: float):
        self.snapshots, self.gate, self.period = snapshots, gate, period
        self._stop = threading.Event()
        self._saved_calls = -1
        self._last_seconds = 0.0
        self._thread = threading.Thread(target=self._loop, name="snapshots", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(max(self.period, self.MAX_HELD_SHARE * self._last_seconds)):
            if self.gate.calls != self._saved_calls:
                self.save()

    def save(self, wait_seconds: float = 3.0) -> bool:
        calls, began = self.gate.calls, time.monotonic()
        try:
            saved = self.snapshots.take(self.gate, wait_seconds)
        except Exception:
            log.exception("could not save the stack's state")
            return False
        if saved:
            self._saved_calls, self._last_seconds = calls, time.monotonic() - began
        return saved

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


