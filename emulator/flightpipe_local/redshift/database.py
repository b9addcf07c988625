# ruff: noqa: S608 - SQL here is built from quoted identifiers and literals; values travel as parameters
"""One Redshift database in one DuckDB file.

A lock serialises all work on it, so every call (a single statement or a batch) is one transaction that other
clients see whole or not at all. Every call is a fresh session: `integer_division` on (Redshift divides integers
as integers: doc "Computations with numeric values"), search path `public`, time zone UTC.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from sqlglot import exp

from flightpipe_local.redshift import catalog
from flightpipe_local.redshift.copy import LoadFailed, S3Reader, copy_from_s3, is_copy, parse_copy
from flightpipe_local.redshift.ddl import identity_violation
from flightpipe_local.redshift.errors import EngineError, redshift_message
from flightpipe_local.redshift.functions import TypeOf
from flightpipe_local.redshift.translate import _DML, _translate, parsed, top_level_statements
from flightpipe_local.redshift.types import redshift_type_name
from flightpipe_local.redshift.unload import S3Writer, is_unload, unload_to_s3

_SEARCH_PATH = re.compile(r"^\s*(?:SET\s+search_path\s*(?:TO|=)\s*(?P<path>.+?)|(?P<show>SHOW\s+search_path))\s*;?\s*$",
                          re.IGNORECASE | re.DOTALL)


_MERGE_REMOVE_DUPLICATES = re.compile(
    r"^\s*MERGE\s+INTO\s+(?P<target>[\w.\"]+)\s+USING\s+"
    r"(?P<source>[\w.\"]+)(?:\s+(?:AS\s+)?(?!ON\b)(?P<salias>\w+))?\s+ON\s+(?P<on>.+?)\s+REMOVE\s+DUPLICATES\s*;?\s*$",
    re.IGNORECASE | re.DOTALL)


@dataclass
class Result:
    sql: str
    columns: list[str] = field(default_factory=list)
    type_names: list[str] = field(default_factory=list)  # Redshift names: int8, varchar, timestamp ...
    rows: list[tuple] = field(default_factory=list)
    rows_affected: int = 0  # rows returned, or rows inserted/updated/deleted/loaded
    has_result_set: bool = False
    elapsed_ns: int = 0


class Database(catalog.CatalogQueries):
    """One Redshift database in one DuckDB file. Thread-safe: calls run one at a time.

    `s3_reader` serves COPY, `s3_writer` UNLOAD; `user` is what current_user answers."""

    def __init__(self, path: Path, s3_reader: S3Reader | None = None, s3_writer: S3Writer | None = None,
                 user: str = "awsuser"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._s3_reader = s3_reader
        self._s3_writer = s3_writer
        self._lock = threading.Lock()
        self._db = duckdb.connect(str(self.path))
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute("CREATE SCHEMA IF NOT EXISTS public")  # Redshift's default schema
        catalog.install(self._db)
        self._db.execute(f"CREATE OR REPLACE TABLE {catalog.CATALOG}.rs_session AS SELECT ? AS user_name", [user])
        self._running: duckdb.DuckDBPyConnection | None = None

    def execute(self, sql: str, params: dict[str, str] | None = None) -> Result:
        """Run one SQL text (normally one statement) as one transaction; the last statement's result."""
        results = self._run(top_level_statements(sql), params, numbered_by_text=False)
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

    def _query(self, sql: str, params: list) -> list[tuple]:
        """A catalog query (catalog.CatalogQueries), in its own short session."""
        with self._lock:
            cursor = self._db.cursor()
            try:
                return cursor.execute(sql, params).fetchall()
            finally:
                cursor.close()

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
            load_errors: list[tuple] = []
            try:
                cursor.execute("SET schema = 'public'; SET search_path = 'public'; SET integer_division = true")
                cursor.execute("BEGIN TRANSACTION")
                results = []
                for number, text in enumerate(sqls, start=1):
                    # One result per element of `sqls`: the last statement's, timed over all of them.
                    started = time.perf_counter_ns()
                    result = Result(sql=text)
                    for statement in top_level_statements(text) if numbered_by_text else [text]:
                        try:
                            result = self._statement(cursor, statement, params)
                        except LoadFailed as exc:
                            load_errors = exc.rows
                            raise EngineError(str(exc), number) from None
                        except EngineError as exc:
                            raise EngineError(str(exc), number) from None
                        except duckdb.Error as exc:
                            raise EngineError(redshift_message(str(exc)), number) from None
                    result.elapsed_ns = time.perf_counter_ns() - started
                    results.append(result)
                cursor.execute("COMMIT")
                return results
            except BaseException:
                try:
                    cursor.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # the transaction may already be aborted by the failure
                if load_errors:  # STL_LOAD_ERRORS keeps the rows of a failed COPY, as Redshift's does
                    cursor.executemany(f"INSERT INTO {catalog.CATALOG}.stl_load_errors VALUES "
                                       f"({', '.join('?' * 18)})", load_errors)
                raise
            finally:
                self._running = None
                cursor.close()

    def _statement(self, cursor: duckdb.DuckDBPyConnection, statement: str, params) -> Result:
        search_path = _SEARCH_PATH.match(statement)
        if search_path:
            return self._search_path(cursor, statement, search_path)
        simplified_merge = _MERGE_REMOVE_DUPLICATES.match(statement)
        if simplified_merge:
            return self._merge_remove_duplicates(cursor, statement, simplified_merge, params)
        if is_copy(statement):
            loaded = copy_from_s3(self._db, cursor, parse_copy(statement), self._s3_reader)
            return Result(sql=statement, rows_affected=loaded)
        if is_unload(statement):
            unloaded = unload_to_s3(cursor, statement, params, self._s3_reader, self._s3_writer,
                                    lambda sql: _translate(sql, params, self._types_for(cursor))[0])
            return Result(sql=statement, rows_affected=unloaded)
        tree = parsed(statement)
        if isinstance(tree, exp.Insert):
            self._check_identity(cursor, tree)
        translated, kind = _translate(statement, params, self._types_for(cursor))
        result = Result(sql=statement)
        for sql in translated:
            cursor.execute(sql)
        if not translated:
            return result
        if issubclass(kind, _DML):
            result.rows_affected = int(cursor.fetchone()[0])
        elif issubclass(kind, (exp.Query, exp.Describe, exp.Show, exp.Pragma)) and cursor.description:
            result.has_result_set = True
            result.columns = [d[0].lower() for d in cursor.description]
            result.type_names = [redshift_type_name(str(d[1])) for d in cursor.description]
            result.rows = cursor.fetchall()
            result.rows_affected = len(result.rows)
        return result

    def _search_path(self, cursor: duckdb.DuckDBPyConnection, statement: str, match: re.Match) -> Result:
        """SET search_path TO a, b / SHOW search_path, for this session (doc "search_path")."""
        if match["show"]:
            path = cursor.execute("SELECT current_setting('search_path')").fetchone()[0]
            return Result(sql=statement, columns=["search_path"], type_names=["varchar"], has_result_set=True,
                          rows=[(", ".join(["$user", *path.split(",")]),)], rows_affected=1)
        names = [n.strip().strip('"').strip("'").lower() for n in match["path"].split(",")]
        names = [n for n in names if n and n != "$user"] or ["public"]
        known = {r[0] for r in cursor.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
        kept = [n for n in names if n in known]  # Redshift ignores schemas that do not exist
        cursor.execute("SET schema = '" + (kept or ["public"])[0].replace("'", "''") + "'")  # resets search_path
        cursor.execute("SET search_path = " + ("'" + ",".join(kept or ["public"]).replace("'", "''") + "'"))
        return Result(sql=statement)

    def _merge_remove_duplicates(self, cursor, statement: str, match: re.Match, params) -> Result:
        """MERGE … REMOVE DUPLICATES (doc "MERGE"): target rows that match are replaced by the source's, duplicates
        among them removed, and unmatched source rows inserted: a delete of the matches and an insert of the
        source, in the call's transaction. Source and target have the same columns, as Redshift requires."""
        m = match.groupdict()
        target = m["target"]  # doc "MERGE": only the source table takes an alias
        source = m["source"] + (f" AS {m['salias']}" if m["salias"] else "")
        deleted = self._statement(cursor, f"DELETE FROM {target} USING {source} WHERE {m['on']}", params)
        inserted = self._statement(cursor, f"INSERT INTO {m['target']} SELECT * FROM {m['source']}", params)
        return Result(sql=statement, rows_affected=deleted.rows_affected + inserted.rows_affected)

    def _check_identity(self, cursor: duckdb.DuckDBPyConnection, insert: exp.Insert) -> None:
        table = insert.find(exp.Table)
        if table is None:
            return
        # The table the INSERT names, resolved as the INSERT resolves it; ddl.py makes IDENTITY a nextval default.
        try:
            rows = cursor.execute("SELECT lower(name) FROM pragma_table_info(?) WHERE dflt_value LIKE 'nextval(%'",
                                  [_qualified(table)]).fetchall()
        except duckdb.CatalogException:
            return  # no such table: the INSERT itself says so
        problem = identity_violation(insert, [r[0] for r in rows])
        if problem:
            raise EngineError(problem)

    def _types_for(self, cursor: duckdb.DuckDBPyConnection):
        """The TypesFor of translate: column types of the tables a statement names, from DuckDB's catalog."""

        def types_for(tree: exp.Expression) -> TypeOf:
            ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
            # Each reference by the name it is used under, to a CTE (whose name shadows a table's, doc "WITH
            # clause") or to a table by the name DuckDB resolves as the statement does (doc "search_path").
            tables = {t.alias_or_name.lower(): t.name.lower() if not t.db and t.name.lower() in ctes
                      else _qualified(t) for t in tree.find_all(exp.Table)}
            columns = _column_types(cursor, sorted(set(tables.values()) - ctes))
            # Derived tables and CTEs: their columns' types as DuckDB reads the subquery (when it can on its own).
            for number, derived in enumerate([*tree.find_all(exp.CTE), *tree.find_all(exp.Subquery)]):
                name = derived.alias_or_name.lower() or f"(derived {number})"
                if name in columns or not isinstance(derived.this, exp.Query):
                    continue
                try:
                    described = cursor.execute(f"DESCRIBE {derived.this.sql(dialect='duckdb')}").fetchall()
                except duckdb.Error:
                    continue  # e.g. a correlated subquery: its types stay unknown
                columns[name] = {row[0].lower(): row[1] for row in described}
                tables.setdefault(name, name)

            def type_of(column: exp.Column) -> str | None:
                if column.table:
                    return columns.get(tables.get(column.table.lower(), ""), {}).get(column.name.lower())
                for table in tables.values():
                    if column.name.lower() in columns.get(table, {}):
                        return columns[table][column.name.lower()]
                return None

            return type_of

        return types_for


def _qualified(table: exp.Table) -> str:
    """The name DuckDB resolves as the statement does: a temporary table first, then the search path."""
    return exp.table_(table.name, table.db or None, quoted=True).sql(dialect="duckdb")


def _column_types(cursor: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, dict[str, str]]:
    """Column name to DuckDB type for each table name that exists; one catalog query when all of them do."""
    if not names:
        return {}
    query = " UNION ALL ".join(
        f"SELECT {i}, lower(name), type FROM pragma_table_info(${i + 1})" for i in range(len(names)))
    try:
        rows = cursor.execute(query, names).fetchall()
    except duckdb.CatalogException:  # a name that is no table (the statement itself says so): one at a time
        return {name: types for name in names for types in [_column_types_of(cursor, name)] if types}
    columns: dict[str, dict[str, str]] = {name: {} for name in names}
    for i, column, data_type in rows:
        columns[names[i]][column] = data_type
    return columns


def _column_types_of(cursor: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    try:
        return dict(cursor.execute("SELECT lower(name), type FROM pragma_table_info(?)", [name]).fetchall())
    except duckdb.CatalogException:
        return {}
