"""One Redshift database in one DuckDB file.

A lock serialises all work on it, so every call (a single statement or a batch) is one transaction that other
clients see whole or not at all.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from sqlglot import exp

from flightpipe_local.redshift.copy import S3Reader, copy_from_s3, is_copy, parse_copy
from flightpipe_local.redshift.errors import EngineError, clean_error
from flightpipe_local.redshift.translate import _DML, _translate, split_statements
from flightpipe_local.redshift.types import redshift_type_name


@dataclass
class Result:
    sql: str
    columns: list[str] = field(default_factory=list)
    type_names: list[str] = field(default_factory=list)  # Redshift names: int8, varchar, timestamp ...
    rows: list[tuple] = field(default_factory=list)
    rows_affected: int = 0  # rows returned, or rows inserted/updated/deleted/loaded
    has_result_set: bool = False
    elapsed_ns: int = 0




class Database:
    """One Redshift database in one DuckDB file. Thread-safe: calls run one at a time."""

    def __init__(self, path: Path, s3_reader: S3Reader | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._s3_reader = s3_reader
        self._lock = threading.Lock()
        self._db = duckdb.connect(str(self.path))
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute("CREATE SCHEMA IF NOT EXISTS public")  # Redshift's default schema
        self._running: duckdb.DuckDBPyConnection | None = None

    def execute(self, sql: str, params: dict[str, str] | None = None) -> Result:
        """Run one SQL text (normally one statement) as one transaction; the last statement's result."""
        results = self._run(split_statements(sql), params, numbered_by_text=False)
        return results[-1] if results else Result(sql=sql)

    def execute_batch(self, sqls: list[str], params: dict[str, str] | None = None) -> list[Result]:
        """Run the statements in one transaction: all of them or none. A failure raises `EngineError`
        whose `statement_index` is the 1-based number of the failing element of `sqls`."""
        return self._run(sqls, params, numbered_by_text=True)

    def interrupt(self) -> None:
        """Abort the statement running now, if any (Data API CancelStatement)."""
        running = self._running
        if running is not None:
            running.interrupt()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def frozen(self):
        """Hold every call off and flush the file (CHECKPOINT empties the WAL): the file may be copied whole."""
        with self._lock:
            self._db.execute("CHECKPOINT")
            yield self

    def _run(self, sqls: list[str], params: dict[str, str] | None, numbered_by_text: bool) -> list[Result]:
        with self._lock:
            # A fresh connection per call is a fresh session: TEMP tables vanish with it, as in Redshift.
            cursor = self._db.cursor()
            self._running = cursor
            try:
                cursor.execute("SET schema = 'public'")
                cursor.execute("BEGIN TRANSACTION")
                results = []
                for number, text in enumerate(sqls, start=1):
                    # One result per element of `sqls`: the last statement's, timed over all of them.
                    started = time.perf_counter_ns()
                    result = Result(sql=text)
                    for statement in split_statements(text) if numbered_by_text else [text]:
                        try:
                            result = self._statement(cursor, statement, params)
                        except EngineError as exc:
                            raise EngineError(str(exc), number) from None
                        except duckdb.Error as exc:
                            raise EngineError(clean_error(exc), number) from None
                    result.elapsed_ns = time.perf_counter_ns() - started
                    results.append(result)
                cursor.execute("COMMIT")
                return results
            except BaseException:
                try:
                    cursor.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # the transaction may already be aborted by the failure
                raise
            finally:
                self._running = None
                cursor.close()

    def _statement(self, cursor: duckdb.DuckDBPyConnection, statement: str, params) -> Result:
        if is_copy(statement):
            loaded = copy_from_s3(self._db, cursor, parse_copy(statement), self._s3_reader)
            return Result(sql=statement, rows_affected=loaded)
        translated, kind = _translate(statement, params)
        result = Result(sql=statement)
        for sql in translated:
            cursor.execute(sql)
        if not translated:
            return result
        if issubclass(kind, _DML):
            result.rows_affected = int(cursor.fetchone()[0])
        elif issubclass(kind, (exp.Query, exp.Describe, exp.Show, exp.Pragma)) and cursor.description:
            result.has_result_set = True
            result.columns = [d[0] for d in cursor.description]
            result.type_names = [redshift_type_name(str(d[1])) for d in cursor.description]
            result.rows = cursor.fetchall()
            result.rows_affected = len(result.rows)
        return result
