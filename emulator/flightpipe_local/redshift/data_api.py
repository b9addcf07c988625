"""The Redshift Data API of the local stack: moto's `redshift-data` service, running SQL for real.

moto ships the Data API's request handler with canned results. `install(ctx)` replaces its actions with
ones that run the SQL on a local warehouse (`database.Database`, one DuckDB file per database of each
cluster or workgroup, `<state_dir>/warehouse/<cluster>/<database>.duckdb`; deleting the cluster deletes its
data, as on AWS without a final snapshot) and adds the actions moto lacks (BatchExecuteStatement, ListStatements).

As on AWS, statements run asynchronously: ExecuteStatement returns an Id at once; a worker thread per
database moves it SUBMITTED -> PICKED -> STARTED -> FINISHED | FAILED | ABORTED; callers poll
DescribeStatement and page through GetStatementResult.

Fault switch: while `<state_dir>/warehouse.offline` exists, ExecuteStatement and BatchExecuteStatement
answer HTTP 500 `InternalServerException` ("cluster unavailable"); SDKs treat that as a retryable
service fault, and clients see it once their retries run out.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import json
import queue
import random
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.redshift.models import RedshiftBackend
from moto.redshiftdata.exceptions import ResourceNotFoundException, ValidationException
from moto.redshiftdata.responses import RedshiftDataAPIServiceResponse

from flightpipe_local.context import StackContext
from flightpipe_local.redshift.database import Database, Result
from flightpipe_local.redshift.errors import EngineError

PAGE_SIZE = 1000  # rows per GetStatementResult page (AWS pages by size; small enough that paging is real)
OFFLINE_FLAG = "warehouse.offline"
DEFAULT_LIST_SIZE = 100
_ACTIONS = ("execute_statement", "batch_execute_statement", "describe_statement", "get_statement_result",
            "list_statements", "cancel_statement")


class InternalServerException(JsonRESTError):
    code = 500

    def __init__(self, message: str):
        super().__init__("InternalServerException", message)


@dataclass
class SubStatement:
    id: str
    query_string: str
    status: str = "SUBMITTED"
    error: str | None = None
    result: Result | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)


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

    def set_status(self, status: str) -> None:
        self.status, self.updated_at = status, time.time()


class _DatabaseWorker:
    """Runs one database's statements one after another, off the request thread."""

    def __init__(self, warehouse: Database):
        self.warehouse = warehouse
        self.current: Statement | None = None
        self._queue: queue.Queue[Statement | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name=f"redshift-data:{warehouse.path.stem}",
                                        daemon=True)
        self._thread.start()

    def submit(self, statement: Statement) -> None:
        self._queue.put(statement)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while (statement := self._queue.get()) is not None:
            if statement.status != "SUBMITTED":
                continue  # cancelled while queued
            statement.set_status("PICKED")
            self.current = statement
            try:
                self._run(statement)
            finally:
                self.current = None

    def _run(self, statement: Statement) -> None:
        params = {p["name"]: p["value"] for p in statement.parameters}
        if statement.status != "PICKED":
            return  # cancelled just now
        statement.set_status("STARTED")
        for sub in statement.subs:
            sub.status, sub.updated_at = "STARTED", time.time()
        started = time.perf_counter_ns()
        try:
            if statement.is_batch:
                results = self.warehouse.execute_batch(statement.sqls, params)
                for sub, result in zip(statement.subs, results, strict=True):
                    sub.result, sub.status, sub.updated_at = result, "FINISHED", time.time()
            else:
                statement.result = self.warehouse.execute(statement.sqls[0], params)
            final, error = "FINISHED", None
        except EngineError as exc:
            final = "ABORTED" if statement.status == "ABORTED" else "FAILED"
            error = str(exc)
            for number, sub in enumerate(statement.subs, start=1):
                # Before the failing one: ran, then rolled back; after it: never ran.
                sub.status = "FINISHED" if number < exc.statement_index else "FAILED" if (
                    number == exc.statement_index) else "ABORTED"
                sub.error = error if number == exc.statement_index else None
                sub.updated_at = time.time()
        except Exception as exc:  # an engine bug must not kill the worker
            final, error = "FAILED", f"internal error: {exc}"
        statement.duration_ns = time.perf_counter_ns() - started
        statement.error = error
        statement.set_status(final)


class DataApiService:
    """All statements and warehouses of the running stack."""

    def __init__(self, ctx: StackContext):
        self.ctx = ctx
        self.statements: dict[str, Statement] = {}
        self._workers: dict[tuple[str, str], _DatabaseWorker] = {}
        self._lock = threading.Lock()

    @property
    def warehouse_dir(self) -> Path:
        return self.ctx.state_dir / "warehouse"

    def worker(self, target: str, database: str) -> _DatabaseWorker:
        """The worker of `database` on the cluster or workgroup `target`: each has its own databases."""
        with self._lock:
            if (target, database) not in self._workers:
                path = self.warehouse_dir / target / f"{database}.duckdb"
                path.parent.mkdir(parents=True, exist_ok=True)
                self._workers[target, database] = _DatabaseWorker(Database(path, s3_reader=self._read_s3))
            return self._workers[target, database]

    def drop_target(self, target: str) -> None:
        """The cluster is gone: close its databases and delete their files."""
        with self._lock:
            workers = [self._workers.pop(key) for key in list(self._workers) if key[0] == target]
        for worker in workers:
            worker.warehouse.interrupt()
            worker.stop()
            worker.warehouse.close()
        shutil.rmtree(self.warehouse_dir / target, ignore_errors=True)

    def _read_s3(self, bucket: str, prefix: str):
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

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for statement in self.statements.values():
            if statement.status in ("SUBMITTED", "PICKED"):
                statement.error = "The stack stopped before the query ran."
                statement.set_status("ABORTED")
        for worker in workers:
            worker.warehouse.interrupt()  # don't wait for a long query to end by itself
            worker.stop()
            worker.warehouse.close()

    # ------------------------------------------------------------ request handling

    def submit(self, request: RedshiftDataAPIServiceResponse, sqls: list[str], is_batch: bool) -> Statement:
        if (self.ctx.state_dir / OFFLINE_FLAG).exists():
            raise InternalServerException("The Redshift cluster is unavailable; try again later.")
        account, region = request.current_account, request.region
        cluster = request._get_param("ClusterIdentifier")
        workgroup = request._get_param("WorkgroupName")
        secret_arn = request._get_param("SecretArn")
        if not cluster and not workgroup:
            raise ValidationException("Either ClusterIdentifier, WorkgroupName or SessionId must be provided.")
        if cluster:
            from moto.redshift.models import redshift_backends

            if cluster not in redshift_backends[account][region].clusters:
                raise ValidationException("Redshift endpoint doesn't exist in this region.")
        if secret_arn:
            from moto.secretsmanager.models import secretsmanager_backends

            if secret_arn not in secretsmanager_backends[account][region].secrets:
                raise ValidationException(f"Secrets Manager can't find the specified secret: {secret_arn}")
        database = request._get_param("Database")
        if not database:
            raise ValidationException("Database is required to run a statement.")
        if not database.replace("_", "").replace("-", "").isalnum():
            raise ValidationException(f"Invalid database name: {database}")
        target = cluster or workgroup
        if not target.replace("-", "").isalnum():
            raise ValidationException(f"Invalid cluster or workgroup name: {target}")
        if not sqls or not all(isinstance(s, str) and s.strip() for s in sqls):
            raise ValidationException("Sql must contain a statement.")
        statement = Statement(
            account=account, region=region, database=database, sqls=sqls, is_batch=is_batch,
            parameters=request._get_param("Parameters") or [], cluster_identifier=cluster,
            workgroup_name=workgroup, db_user=request._get_param("DbUser"), secret_arn=secret_arn,
            statement_name=request._get_param("StatementName"),
        )
        self.statements[statement.id] = statement
        self.worker(target, database).submit(statement)
        return statement

    def find(self, request: RedshiftDataAPIServiceResponse, statement_id: str) -> tuple[Statement, int]:
        """The statement and, for `<id>:N`, the sub-statement number N (0 for the statement itself)."""
        if not isinstance(statement_id, str):
            raise ValidationException("Id is required.")
        base, _, number = statement_id.partition(":")
        statement = self.statements.get(base)
        if (statement is None or statement.account != request.current_account
                or statement.region != request.region):
            raise ResourceNotFoundException()
        if number:
            if not number.isdigit() or not 1 <= int(number) <= len(statement.subs):
                raise ResourceNotFoundException()
            return statement, int(number)
        return statement, 0

    def cancel(self, request: RedshiftDataAPIServiceResponse, statement_id: str) -> None:
        statement, _ = self.find(request, statement_id)
        if statement.status in ("SUBMITTED", "PICKED"):
            statement.error = "Query was cancelled before it started."
            statement.set_status("ABORTED")
            return
        if statement.status == "STARTED":
            statement.set_status("ABORTED")
            worker = self._workers.get(statement.database)
            if worker and worker.current is statement:
                worker.warehouse.interrupt()
            return
        raise ValidationException(
            f"Could not cancel a query that is already in {statement.status} state with ID: {statement_id}"
        )


_service: DataApiService | None = None


def service() -> DataApiService:
    if _service is None:
        raise RuntimeError("data_api.install(ctx) has not been called")
    return _service


# ---------------------------------------------------------------- JSON shapes of the Data API


def _describe(statement: Statement) -> dict[str, Any]:
    result = statement.result
    last = statement.subs[-1].result if statement.subs else result
    body = {
        "Id": statement.id,
        "Status": statement.status,
        "QueryString": "; ".join(statement.sqls) if statement.is_batch else statement.sqls[0],
        "Database": statement.database,
        "CreatedAt": statement.created_at,
        "UpdatedAt": statement.updated_at,
        "Duration": statement.duration_ns,
        "HasResultSet": bool(last and last.has_result_set and not statement.is_batch),
        "ResultRows": result.rows_affected if result else -1,
        "ResultSize": _result_size(result) if result else -1,
        "RedshiftPid": statement.redshift_pid,
        "RedshiftQueryId": statement.query_id,
        "QueryParameters": statement.parameters or None,
        "ClusterIdentifier": statement.cluster_identifier,
        "WorkgroupName": statement.workgroup_name,
        "DbUser": statement.db_user,
        "SecretArn": statement.secret_arn,
        "Error": statement.error,
    }
    if statement.is_batch:
        body["HasResultSet"] = any(s.result and s.result.has_result_set for s in statement.subs)
        body["SubStatements"] = [_describe_sub(statement, s) for s in statement.subs]
    return {k: v for k, v in body.items() if v is not None}


def _describe_sub(statement: Statement, sub: SubStatement) -> dict[str, Any]:
    result = sub.result
    body = {
        "Id": sub.id,
        "Status": sub.status,
        "QueryString": sub.query_string,
        "CreatedAt": sub.created_at,
        "UpdatedAt": sub.updated_at,
        "Duration": result.elapsed_ns if result else -1,
        "HasResultSet": bool(result and result.has_result_set),
        "ResultRows": result.rows_affected if result else -1,
        "ResultSize": _result_size(result) if result else -1,
        "RedshiftQueryId": statement.query_id + int(sub.id.rsplit(":", 1)[1]),
        "Error": sub.error,
    }
    return {k: v for k, v in body.items() if v is not None}


def _result_size(result: Result) -> int:
    if not result.has_result_set:
        return 0
    return sum(len(str(value)) for row in result.rows[:PAGE_SIZE] for value in row) * max(
        1, len(result.rows) // PAGE_SIZE
    )


def _field_encoder(type_name: str):
    """Redshift's JSON for one value of a column: whole numbers as longValue, floats as doubleValue,
    booleans as booleanValue, everything else (numeric, date, timestamp, varchar) as stringValue."""
    if type_name in ("int2", "int4", "int8"):
        return lambda v: {"longValue": int(v)}
    if type_name in ("float4", "float8"):
        return lambda v: {"doubleValue": float(v)}
    if type_name == "bool":
        return lambda v: {"booleanValue": bool(v)}
    if type_name in ("timestamp", "timestamptz"):
        return lambda v: {"stringValue": v.isoformat(sep=" ") if isinstance(v, dt.datetime) else str(v)}
    if type_name == "numeric":
        return lambda v: {"stringValue": format(v, "f") if isinstance(v, decimal.Decimal) else str(v)}
    return lambda v: {"stringValue": str(v)}


def _column_metadata(result: Result) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "label": name,
            "typeName": type_name,
            "nullable": 1,
            "isSigned": type_name in ("int2", "int4", "int8", "float4", "float8", "numeric"),
            "isCaseSensitive": type_name == "varchar",
            "isCurrency": False,
            "precision": 0,
            "scale": 0,
            "length": 0,
            "schemaName": "",
            "tableName": "",
        }
        for name, type_name in zip(result.columns, result.type_names, strict=True)
    ]


def _page(result: Result, next_token: str | None) -> dict[str, Any]:
    try:
        start = int(next_token) if next_token else 0
    except ValueError:
        raise ValidationException("NextToken is invalid.") from None
    encoders = [_field_encoder(t) for t in result.type_names]
    rows = result.rows[start : start + PAGE_SIZE]
    records = [
        [{"isNull": True} if value is None else encode(value) for encode, value in zip(encoders, row, strict=True)]
        for row in rows
    ]
    body: dict[str, Any] = {
        "ColumnMetadata": _column_metadata(result),
        "Records": records,
        "TotalNumRows": len(result.rows),
    }
    if start + PAGE_SIZE < len(result.rows):
        body["NextToken"] = str(start + PAGE_SIZE)
    return body


# ---------------------------------------------------------------- the actions moto will dispatch to


def _ok(body: dict[str, Any]):
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body)


def _submitted(statement: Statement):
    body = {
        "Id": statement.id,
        "CreatedAt": statement.created_at,
        "Database": statement.database,
        "ClusterIdentifier": statement.cluster_identifier,
        "WorkgroupName": statement.workgroup_name,
        "DbUser": statement.db_user,
        "SecretArn": statement.secret_arn,
    }
    return _ok({k: v for k, v in body.items() if v is not None})


def execute_statement(self: RedshiftDataAPIServiceResponse):
    return _submitted(service().submit(self, [self._get_param("Sql")], is_batch=False))


def batch_execute_statement(self: RedshiftDataAPIServiceResponse):
    return _submitted(service().submit(self, list(self._get_param("Sqls") or []), is_batch=True))


def describe_statement(self: RedshiftDataAPIServiceResponse):
    statement, number = service().find(self, self._get_param("Id"))
    if number:
        return _ok(_describe_sub(statement, statement.subs[number - 1]))
    return _ok(_describe(statement))


def get_statement_result(self: RedshiftDataAPIServiceResponse):
    statement, number = service().find(self, self._get_param("Id"))
    if statement.is_batch and not number:
        raise ValidationException("Batch statement results are read per sub-statement: use Id '<id>:N'.")
    result = statement.subs[number - 1].result if number else statement.result
    if statement.status != "FINISHED" or result is None or not result.has_result_set:
        raise ValidationException("Query does not have result. Please check query status with DescribeStatement.")
    return _ok(_page(result, self._get_param("NextToken")))


def list_statements(self: RedshiftDataAPIServiceResponse):
    status = self._get_param("Status") or "ALL"
    name = self._get_param("StatementName")
    filters = {"database": self._get_param("Database"), "cluster_identifier": self._get_param("ClusterIdentifier"),
               "workgroup_name": self._get_param("WorkgroupName")}
    matching = [
        s for s in service().statements.values()
        if s.account == self.current_account and s.region == self.region
        and status in ("ALL", s.status)
        and (not name or (s.statement_name or "").startswith(name))
        and all(not wanted or getattr(s, attr) == wanted for attr, wanted in filters.items())
    ]
    matching.sort(key=lambda s: s.created_at, reverse=True)
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or DEFAULT_LIST_SIZE)
    body: dict[str, Any] = {"Statements": [_list_entry(s) for s in matching[start : start + size]]}
    if start + size < len(matching):
        body["NextToken"] = str(start + size)
    return _ok(body)


def _list_entry(statement: Statement) -> dict[str, Any]:
    body = {
        "Id": statement.id,
        "Status": statement.status,
        "StatementName": statement.statement_name,
        "CreatedAt": statement.created_at,
        "UpdatedAt": statement.updated_at,
        "SecretArn": statement.secret_arn,
        "IsBatchStatement": statement.is_batch,
        "QueryParameters": statement.parameters or None,
    }
    if statement.is_batch:
        body["QueryStrings"] = statement.sqls
    else:
        body["QueryString"] = statement.sqls[0]
    return {k: v for k, v in body.items() if v is not None}


def cancel_statement(self: RedshiftDataAPIServiceResponse):
    service().cancel(self, self._get_param("Id"))
    return _ok({"Status": True})


def install(ctx: StackContext) -> None:
    """Serve the Data API from local warehouses under `ctx.state_dir`. Idempotent; a new `ctx` (another
    state folder) closes the previous warehouses first."""
    global _service
    if _service is not None and _service.ctx == ctx:
        return
    shutdown()
    _service = DataApiService(ctx)
    for action in _ACTIONS:
        setattr(RedshiftDataAPIServiceResponse, action, globals()[action])
    RedshiftBackend.delete_cluster = _delete_cluster_and_its_data


_moto_delete_cluster = RedshiftBackend.delete_cluster


def _delete_cluster_and_its_data(self: RedshiftBackend, **kwargs):
    cluster = _moto_delete_cluster(self, **kwargs)
    if _service is not None:
        _service.drop_target(cluster.cluster_identifier)
    return cluster


@contextlib.contextmanager
def frozen_databases():
    """Every open database locked and checkpointed (`Database.frozen`), and none opened meanwhile: the
    warehouse folder's files may be copied as one consistent state."""
    if _service is None:
        yield []
        return
    with _service._lock, contextlib.ExitStack() as stack:
        yield [stack.enter_context(worker.warehouse.frozen()) for worker in _service._workers.values()]


def shutdown() -> None:
    """Stop the workers and close the DuckDB files (the stack may start again with another state folder)."""
    global _service
    if _service is not None:
        _service.close()
        _service = None
