"""The statement model of the local Data API: statements, the worker that runs them, cancellation.

As on AWS, statements run asynchronously: a worker thread per database of each cluster or workgroup moves
each one SUBMITTED -> PICKED -> STARTED -> FINISHED | FAILED | ABORTED. Every status change happens under one
lock, so a cancelled statement stays ABORTED whatever its query does afterwards. The lock is a condition:
a call that waits for a statement to end (WaitTimeSeconds) is woken when it ends, not on its next look.
"""

from __future__ import annotations

import contextlib
import queue
import random
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flightpipe_local.context import StackContext
from flightpipe_local.redshift import local_s3
from flightpipe_local.redshift.database import Database, Result
from flightpipe_local.redshift.errors import EngineError

ACTIVE = ("SUBMITTED", "PICKED", "STARTED")
INTERRUPT_EVERY_S = 0.05  # a cancelled query is interrupted again until it has stopped
INTERRUPT_FOR_S = 30.0
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def plain_error(message: str) -> str:
    """The Data API's `Error` field is one line of plain text: no terminal colour codes, no line breaks."""
    return " ".join(_ANSI.sub("", message).split())


@dataclass
class SubStatement:
    id: str
    query_string: str
    status: str = "SUBMITTED"
    error: str | None = None
    result: Result | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def set_status(self, status: str, error: str | None = None) -> None:
        self.status, self.updated_at = status, time.time()
        self.error = plain_error(error) if error else None


@dataclass
class Statement:
    """One ExecuteStatement or BatchExecuteStatement call and what became of it."""

    account: str
    region: str
    database: str
    sqls: list[str]
    is_batch: bool
    parameters: list[dict[str, str]]
    cluster_identifier: str | None = None
    workgroup_name: str | None = None
    db_user: str | None = None
    secret_arn: str | None = None
    statement_name: str | None = None
    result_format: str = "JSON"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = "SUBMITTED"
    error: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    duration_ns: int = -1
    redshift_pid: int = field(default_factory=lambda: random.randint(1_000, 1_073_741_823))  # noqa: S311
    query_id: int = field(default_factory=lambda: random.randint(1, 9_999_999))  # noqa: S311
    subs: list[SubStatement] = field(default_factory=list)
    result: Result | None = None  # of a single (non-batch) statement

    def __post_init__(self) -> None:
        if self.is_batch:
            self.subs = [SubStatement(f"{self.id}:{n}", sql) for n, sql in enumerate(self.sqls, start=1)]

    @property
    def target(self) -> str:
        return self.cluster_identifier or self.workgroup_name or ""

    def set_status(self, status: str, error: str | None = None) -> None:
        self.status, self.updated_at = status, time.time()
        if error:
            self.error = plain_error(error)


class DatabaseWorker:
    """Runs one database's statements one after another, off the request thread."""

    def __init__(self, database: Database, state: threading.Condition):
        self.database = database
        self.current: Statement | None = None
        self._state = state  # the service's lock over every status change and over `current`; notified
        # whenever a statement ends
        self._queue: queue.Queue[Statement | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"redshift-data:{database.path.stem}",
                                        daemon=True)
        self._thread.start()

    def submit(self, statement: Statement) -> None:
        self._queue.put(statement)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def interrupt_if_running(self, statement: Statement) -> bool:
        """Interrupt `statement`'s query if it is the one running here; False once it has stopped."""
        with self._state:
            if self.current is not statement:
                return False
            self.database.interrupt()
            return True

    def _loop(self) -> None:
        while (statement := self._queue.get()) is not None:
            with self._state:
                if statement.status != "SUBMITTED":
                    continue  # cancelled while queued: it never runs
                statement.set_status("STARTED")
                for sub in statement.subs:
                    sub.set_status("STARTED")
                self.current = statement
            try:
                self._run(statement)
            finally:
                with self._state:
                    self.current = None
                    self._state.notify_all()

    def _run(self, statement: Statement) -> None:
        params = {p["name"]: p["value"] for p in statement.parameters}
        started = time.perf_counter_ns()
        results: list[Result] = []
        failure: EngineError | None = None
        internal: str | None = None
        try:
            if statement.is_batch:
                results = self.database.execute_batch(statement.sqls, params)
            else:
                results = [self.database.execute(statement.sqls[0], params)]
        except EngineError as exc:
            failure = exc
        except Exception as exc:  # noqa: BLE001 - an engine bug must not kill the worker
            internal = f"internal error: {exc}"
        with self._state:
            statement.duration_ns = time.perf_counter_ns() - started
            if statement.status == "ABORTED":  # cancelled while it ran: whatever the query did is void
                for sub in statement.subs:
                    if sub.status != "ABORTED":
                        sub.set_status("ABORTED", statement.error)
                return
            if failure is not None or internal is not None:
                self._failed(statement, failure, internal)
                return
            if statement.is_batch:
                for sub, result in zip(statement.subs, results, strict=True):
                    sub.result = result
                    sub.set_status("FINISHED")
            else:
                statement.result = results[0]
            statement.set_status("FINISHED")

    @staticmethod
    def _failed(statement: Statement, failure: EngineError | None, internal: str | None) -> None:
        error = str(failure) if failure is not None else internal or "internal error"
        failing = failure.statement_index if failure is not None else 1
        for number, sub in enumerate(statement.subs, start=1):
            # Before the failing one: ran, then rolled back; after it: never ran.
            if number < failing:
                sub.set_status("FINISHED")
            elif number == failing:
                sub.set_status("FAILED", error)
            else:
                sub.set_status("ABORTED")
        statement.set_status("FAILED", error)


class StatementService:
    """All statements and databases of the running stack."""

    def __init__(self, ctx: StackContext):
        self.ctx = ctx
        self.statements: dict[str, Statement] = {}
        self.client_tokens: dict[str, str] = {}  # ClientToken -> the id of the statement it made
        self._workers: dict[tuple[str, str], DatabaseWorker] = {}
        self._readers: dict[tuple[str, str], Database] = {}
        self._lock = threading.Lock()  # over `_workers` and `_readers`
        self._state = threading.Condition()  # over statuses (shared with the workers); notified when one ends

    @property
    def warehouse_dir(self) -> Path:
        return self.ctx.state_dir / "warehouse"

    def worker(self, target: str, database: str) -> DatabaseWorker:
        """The worker of `database` on the cluster or workgroup `target`: each has its own databases."""
        with self._lock:
            if (target, database) not in self._workers:
                path = self.warehouse_dir / target / f"{database}.duckdb"
                path.parent.mkdir(parents=True, exist_ok=True)
                db = Database(path, s3_reader=self._read_s3, s3_writer=local_s3.writer(self.ctx.account_id))
                self._workers[target, database] = DatabaseWorker(db, self._state)
            return self._workers[target, database]

    def catalog_reader(self, target: str, database: str) -> Database:
        """A second session on `database` for the metadata actions: they read the committed catalog beside a
        running statement instead of queueing behind it, as another session on Redshift would."""
        worker = self.worker(target, database)  # the database exists once addressed, as for statements
        with self._lock:
            if (target, database) not in self._readers:
                self._readers[target, database] = Database(worker.database.path)
            return self._readers[target, database]

    def database_names(self, target: str) -> list[str]:
        """The databases of `target` that hold data (each is one file)."""
        folder = self.warehouse_dir / target
        return sorted(p.stem for p in folder.glob("*.duckdb")) if folder.is_dir() else []

    def active(self, target: str) -> int:
        """How many statements of the cluster or workgroup `target` are queued or running."""
        return sum(1 for s in list(self.statements.values()) if s.target == target and s.status in ACTIVE)

    def wait_until_ended(self, statement: Statement, seconds: float) -> None:
        """Return once `statement` has ended, or after `seconds`."""
        with self._state:
            self._state.wait_for(lambda: statement.status not in ACTIVE, timeout=seconds)

    def submit(self, statement: Statement) -> Statement:
        self.statements[statement.id] = statement
        self.worker(statement.target, statement.database).submit(statement)
        return statement

    def cancel(self, statement: Statement, statement_id: str) -> None:
        """CancelStatement: a queued statement never runs; a running one is interrupted. Either stays ABORTED."""
        from moto.redshiftdata.exceptions import ValidationException

        error = f"ERROR: Query ({statement.query_id}) cancelled on user's request"
        with self._state:
            if statement.status not in ACTIVE:
                raise ValidationException(
                    f"Could not cancel a query that is already in {statement.status} state with ID: {statement_id}")
            running = statement.status == "STARTED"
            statement.set_status("ABORTED", error)
            for sub in statement.subs:
                sub.set_status("ABORTED", error)
            self._state.notify_all()
        if running:
            worker = self.worker(statement.target, statement.database)
            threading.Thread(target=self._interrupt_until_stopped, args=(worker, statement),
                             name=f"redshift-data-cancel:{statement.id}", daemon=True).start()

    @staticmethod
    def _interrupt_until_stopped(worker: DatabaseWorker, statement: Statement) -> None:
        # An interrupt that lands between two engine calls of the statement is lost: repeat until it stops.
        deadline = time.monotonic() + INTERRUPT_FOR_S
        while worker.interrupt_if_running(statement) and time.monotonic() < deadline:
            time.sleep(INTERRUPT_EVERY_S)

    def drop_target(self, target: str) -> None:
        """The cluster is gone: close its databases and delete their files."""
        with self._lock:
            workers = [self._workers.pop(key) for key in list(self._workers) if key[0] == target]
            readers = [self._readers.pop(key) for key in list(self._readers) if key[0] == target]
        for reader in readers:
            reader.close()
        self._stop(workers)
        shutil.rmtree(self.warehouse_dir / target, ignore_errors=True)

    @contextlib.contextmanager
    def frozen(self):
        """Every open database locked and checkpointed, and none opened meanwhile (a consistent copy)."""
        with self._lock, contextlib.ExitStack() as stack:
            yield [stack.enter_context(worker.database.frozen()) for worker in self._workers.values()]

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.close()
        with self._state:
            for statement in self.statements.values():
                if statement.status in ("SUBMITTED", "PICKED"):
                    statement.set_status("ABORTED", "The stack stopped before the query ran.")
            self._state.notify_all()
        self._stop(workers)

    @staticmethod
    def _stop(workers: list[DatabaseWorker]) -> None:
        for worker in workers:
            worker.database.interrupt()  # don't wait for a long query to end by itself
            worker.stop()
            worker.database.close()

    def _read_s3(self, bucket: str, prefix: str) -> Iterator[tuple[str, bytes]]:
        """COPY's view of S3: the local stack's own objects, read in-process."""
        from moto.s3.models import FakeKey, s3_backends

        try:
            keys = s3_backends[self.ctx.account_id]["global"].get_bucket(bucket).keys
        except Exception:  # noqa: BLE001 - moto raises its own MissingBucket
            raise EngineError(f"The specified S3 bucket '{bucket}' does not exist") from None
        for key in sorted(k for k in list(keys) if k.startswith(prefix)):
            obj = keys.get(key)
            if isinstance(obj, FakeKey):  # skip delete markers
                yield key, obj.value
