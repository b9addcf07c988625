"""An embedded SQL engine that speaks enough Redshift for the pipeline: DuckDB underneath.

Redshift SQL is translated statement by statement with sqlglot (`read="redshift", write="duckdb"`).
Redshift-only table attributes (DISTSTYLE, DISTKEY, SORTKEY, ENCODE, BACKUP) are dropped, maintenance
commands (LOCK, ANALYZE, VACUUM, GRANT) are no-ops, and `COPY ... FROM 's3://...'` is parsed here and
loaded with DuckDB's own CSV/Parquet readers from files fetched through an injectable S3 reader.

One `Warehouse` is one Redshift database, stored in one DuckDB file. A lock serialises all work on it, so
every call (a single statement or a batch) is one transaction that other clients see whole or not at all.

Parsing with sqlglot costs milliseconds a statement, and clients send the same texts again and again (the
Glue job's claims, its load batch, a state machine's ledger query): the parsed statements are cached, and a
statement's parameters are bound into a copy of the cached tree.
"""

from __future__ import annotations

import functools
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

# (bucket, key prefix) -> every object whose key starts with the prefix, as (key, bytes).
S3Reader = Callable[[str, str], Iterable[tuple[str, bytes]]]

# DuckDB type name (prefix) -> the type name Redshift reports in result metadata.
# HUGEINT (DuckDB's SUM of integers) reports as int8: Redshift says int8 for SUM(int4), numeric(38,0) for SUM(int8).
_REDSHIFT_TYPES = [
    ("BIGINT", "int8"), ("HUGEINT", "int8"), ("UBIGINT", "numeric"), ("INTEGER", "int4"),
    ("UINTEGER", "int8"), ("SMALLINT", "int2"), ("USMALLINT", "int4"), ("TINYINT", "int2"),
    ("UTINYINT", "int2"), ("DOUBLE", "float8"), ("FLOAT", "float4"), ("DECIMAL", "numeric"),
    ("VARCHAR", "varchar"), ("BOOLEAN", "bool"), ("DATE", "date"),
    ("TIMESTAMP WITH TIME ZONE", "timestamptz"), ("TIMESTAMP", "timestamp"),
    ("TIME WITH TIME ZONE", "timetz"), ("TIME", "time"), ("BLOB", "varbyte"), ("INTERVAL", "interval"),
]
_NO_OPS = {"LOCK", "VACUUM", "ANALYZE", "GRANT", "REVOKE"}  # meaningful only on a real cluster
_DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge)


class EngineError(Exception):
    """A statement failed. `statement_index` is its 1-based position in the call (batch or multi-statement)."""

    def __init__(self, message: str, statement_index: int = 1):
        super().__init__(message)
        self.statement_index = statement_index


@dataclass
class Result:
    sql: str
    columns: list[str] = field(default_factory=list)
    type_names: list[str] = field(default_factory=list)  # Redshift names: int8, varchar, timestamp ...
    rows: list[tuple] = field(default_factory=list)
    rows_affected: int = 0  # rows returned, or rows inserted/updated/deleted/loaded
    has_result_set: bool = False
    elapsed_ns: int = 0


def redshift_type_name(duckdb_type: str) -> str:
    for prefix, name in _REDSHIFT_TYPES:
        if duckdb_type.upper().startswith(prefix):
            return name
    return duckdb_type.lower()


def split_statements(sql: str) -> list[str]:
    """Split on top-level semicolons (the tokenizer knows about quotes and comments); drop empty parts."""
    return list(_split_statements(sql))


@functools.lru_cache(maxsize=1024)
def _split_statements(sql: str) -> tuple[str, ...]:
    parts, start = [], 0
    for token in sqlglot.Dialect.get_or_raise("redshift").tokenize(sql):
        if token.token_type == TokenType.SEMICOLON:
            parts.append(sql[start : token.start])
            start = token.end + 1
    parts.append(sql[start:])
    return tuple(part.strip() for part in parts if part.strip() and _has_code(part))


def _has_code(text: str) -> bool:
    return bool(sqlglot.Dialect.get_or_raise("redshift").tokenize(text))


def _sql_str(value: str) -> str:
    """A DuckDB string literal (standard SQL quoting: backslashes are not escapes in DuckDB)."""
    return "'" + value.replace("'", "''") + "'"


def _table_sql(name: exp.Table | str) -> str:
    table = exp.to_table(name, dialect="redshift") if isinstance(name, str) else name
    return table.sql(dialect="duckdb", identify=True)


# ---------------------------------------------------------------- translation of ordinary statements


def _bind_parameters(tree: exp.Expression, params: dict[str, str]) -> exp.Expression:
    """Replace `:name` placeholders with string literals, i.e. Redshift's untyped literals (the engine
    casts them from context). The literal is built as an AST node, so a value can never become SQL."""

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in params:
                raise EngineError(f"no value given for parameter :{node.name} (Parameters has {sorted(params)})")
            return exp.Literal.string(params[node.name])
        return node

    return tree.transform(substitute)


def _strip_redshift_table_attributes(create: exp.Create) -> list[exp.Expression]:
    """Drop DIST/SORT/ENCODE/BACKUP; turn IDENTITY(seed, step) into a sequence default.

    Returns the statements to run before the CREATE (the sequences)."""
    before: list[exp.Expression] = []
    props = create.args.get("properties")
    if props:
        keep = [
            p
            for p in props.expressions
            if not isinstance(p, (exp.DistStyleProperty, exp.DistKeyProperty, exp.SortKeyProperty,
                                  exp.BackupProperty))
        ]
        create.set("properties", exp.Properties(expressions=keep) if keep else None)
    schema = create.this if isinstance(create.this, exp.Schema) else None
    table = schema.this if schema else None
    for column in create.find_all(exp.ColumnDef):
        kept = []
        for constraint in column.args.get("constraints") or []:
            kind = constraint.args.get("kind")
            if isinstance(kind, exp.EncodeColumnConstraint):
                continue
            if isinstance(kind, exp.GeneratedAsIdentityColumnConstraint) and table is not None:
                seq = exp.Table(
                    this=exp.to_identifier(f"{table.name}_{column.name}_seq"), db=table.args.get("db")
                )
                start = kind.args.get("start") or exp.Literal.number(1)
                step = kind.args.get("increment") or exp.Literal.number(1)
                before.append(sqlglot.parse_one(
                    f"CREATE SEQUENCE IF NOT EXISTS {_table_sql(seq)} START {start.sql()} INCREMENT {step.sql()}",
                    read="duckdb",
                ))
                default = exp.Anonymous(this="nextval", expressions=[exp.Literal.string(_table_sql(seq))])
                kept.append(exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(this=default)))
                continue
            kept.append(constraint)
        column.set("constraints", kept)
    return before


def _rewrite_create_like(create: exp.Create) -> exp.Expression | None:
    """`CREATE [TEMP] TABLE x (LIKE y)` -> `CREATE [TEMP] TABLE x AS SELECT * FROM y LIMIT 0` (same columns)."""
    schema = create.this
    if not (isinstance(schema, exp.Schema) and schema.expressions
            and isinstance(schema.expressions[0], exp.LikeProperty)):
        return None
    source = schema.expressions[0].this
    query = exp.select("*").from_(source).limit(0)
    return exp.Create(this=schema.this, kind="TABLE", exists=create.args.get("exists"),
                      properties=create.args.get("properties"), expression=query)


def _redshift_column_names(tree: exp.Expression) -> None:
    """Name unaliased result columns as Redshift does (`count`, `max`, `listagg`, `?column?`), not as DuckDB
    would (`count_star()`), so readers of the result find the columns they expect."""
    if not isinstance(tree, exp.Select):
        return
    for projection in list(tree.expressions):
        if isinstance(projection, (exp.Alias, exp.Column, exp.Star)):
            continue
        if isinstance(projection, exp.Cast) and isinstance(projection.this, exp.Column):
            name = projection.this.name
        elif isinstance(projection, (exp.Func, exp.WithinGroup)):
            match = re.match(r"\s*([A-Za-z_]\w*)", projection.sql(dialect="redshift"))
            name = match.group(1).lower() if match else "?column?"
        else:
            name = "?column?"
        projection.replace(exp.alias_(projection.copy(), name, quoted=True))


def _listagg_distinct(tree: exp.Expression) -> None:
    """sqlglot reads `LISTAGG(DISTINCT x, sep)` as DISTINCT over (x, sep); Redshift means DISTINCT x."""
    for agg in tree.find_all(exp.GroupConcat):
        distinct = agg.this
        if isinstance(distinct, exp.Distinct) and len(distinct.expressions) == 2 and not agg.args.get("separator"):
            agg.set("this", exp.Distinct(expressions=[distinct.expressions[0]]))
            agg.set("separator", distinct.expressions[1])


def _unbounded_strings(tree: exp.Expression) -> None:
    """VARCHAR(n)/CHAR(n)/VARCHAR(MAX) -> VARCHAR: DuckDB ignores lengths anyway and rejects MAX."""
    for data_type in tree.find_all(exp.DataType):
        if data_type.this in exp.DataType.TEXT_TYPES:
            data_type.set("expressions", [])


def _utc_timestamps(tree: exp.Expression) -> exp.Expression:
    """GETDATE()/SYSDATE/CURRENT_TIMESTAMP: Redshift sessions run in UTC and return a plain timestamp."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentTimestamp) and not isinstance(node.parent, exp.AtTimeZone):
            return exp.AtTimeZone(this=exp.CurrentTimestamp(), zone=exp.Literal.string("UTC"))
        return node

    return tree.transform(rewrite)


_COLUMN_KEY_ATTRIBUTE = re.compile(r"\b(DISTKEY|SORTKEY)\b(?!\s*\()", re.IGNORECASE)


def translate(statement: str, params: dict[str, str] | None = None) -> list[str]:
    """One Redshift statement -> the DuckDB statements that do the same (empty list: a no-op)."""
    return list(_translate(statement, params)[0])


def _translate(statement: str, params: dict[str, str] | None) -> tuple[list[str], type[exp.Expression] | None]:
    """`translate`, plus the kind of the last statement (to know whether it returns rows or a count)."""
    tree = _parsed(statement)
    if tree is None:
        return [], None
    if not params and not tree.find(exp.Placeholder):
        return _translated(statement)
    return _to_duckdb(_bind_parameters(tree.copy(), params or {}))


@functools.lru_cache(maxsize=1024)
def _translated(statement: str) -> tuple[list[str], type[exp.Expression]]:
    """The translation of a statement without parameters, which is the same every time."""
    return _to_duckdb(_parsed(statement).copy())


@functools.lru_cache(maxsize=1024)
def _parsed(statement: str) -> exp.Expression | None:
    """The Redshift syntax tree of a statement (None: a no-op). Cached: callers copy it before changing it."""
    tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(statement)  # comments are not tokens
    first_word = tokens[0].text.upper() if tokens else ""
    if first_word in _NO_OPS:
        return None
    if first_word == "CREATE":
        statement = _COLUMN_KEY_ATTRIBUTE.sub("", statement)  # column-level `distkey`/`sortkey` markers
    try:
        tree = sqlglot.parse_one(statement, read="redshift")
    except sqlglot.ParseError as exc:
        raise EngineError(f"syntax error: {exc}") from None
    if isinstance(tree, (exp.Transaction, exp.Commit)):
        return None  # the whole call already is one transaction
    if isinstance(tree, exp.Rollback):
        raise EngineError("ROLLBACK is not supported inside a Data API call (a failed call rolls back itself)")
    if isinstance(tree, exp.Analyze) or (isinstance(tree, exp.Command) and tree.name.upper() in _NO_OPS):
        return None
    if isinstance(tree, exp.Command):
        raise EngineError(f"unsupported statement: {statement.split()[0].upper()}")
    return tree


def _to_duckdb(tree: exp.Expression) -> tuple[list[str], type[exp.Expression]]:
    """DuckDB SQL for a Redshift tree whose parameters are bound (the tree is changed in place)."""
    _redshift_column_names(tree)
    _unbounded_strings(tree)
    _listagg_distinct(tree)
    tree = _utc_timestamps(tree)
    before: list[exp.Expression] = []
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        tree = _rewrite_create_like(tree) or tree
        before = _strip_redshift_table_attributes(tree)
    return [e.sql(dialect="duckdb") for e in [*before, tree]], type(tree)


# ---------------------------------------------------------------- COPY


@dataclass
class CopyCommand:
    table: str
    columns: list[str] | None
    source: str  # s3://bucket/prefix
    format: str = "TEXT"  # TEXT (Redshift's default delimited format), CSV or PARQUET
    delimiter: str | None = None
    quote: str = '"'
    ignore_header: int = 0
    null_as: str | None = None
    empty_as_null: bool = False
    blanks_as_null: bool = False
    gzip: bool = False
    date_format: str | None = None
    time_format: str | None = None


_COPY_HEAD = re.compile(
    r"^\s*COPY\s+(?P<table>[\w.\"$]+)\s*(?:\((?P<columns>[^)]*)\))?\s+FROM\s+'(?P<source>[^']*)'(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_COPY_WORD = re.compile(r"'(?:[^']|'')*'|[^\s']+")
_IGNORED_COPY_OPTIONS = {  # accepted for compatibility; they change nothing locally
    "ACCEPTINVCHARS", "TRUNCATECOLUMNS", "TRIMBLANKS", "COMPUPDATE", "STATUPDATE", "MAXERROR",
    "ACCEPTANYDATE", "FILLRECORD", "ROUNDEC", "EXPLICIT_IDS",
}
_OPTIONS_WITH_VALUE = {"IAM_ROLE", "CREDENTIALS", "REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY",
                       "SESSION_TOKEN", "MAXERROR", "COMPUPDATE", "STATUPDATE"}


@functools.lru_cache(maxsize=1024)
def is_copy(statement: str) -> bool:
    tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(statement)
    return bool(tokens) and tokens[0].text.upper() == "COPY"


def _without_leading_comments(statement: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", statement, flags=re.DOTALL)


def parse_copy(statement: str) -> CopyCommand:
    match = _COPY_HEAD.match(_without_leading_comments(statement))
    if not match:
        raise EngineError("COPY must look like: COPY schema.table [(columns)] FROM 's3://bucket/prefix' options")
    columns = [c.strip().strip('"') for c in match["columns"].split(",")] if match["columns"] else None
    cmd = CopyCommand(table=match["table"], columns=columns, source=match["source"])
    words = _COPY_WORD.findall(match["rest"])
    i = 0

    def take_value() -> str:  # the option's value, after an optional AS
        nonlocal i
        if i < len(words) and words[i].upper() == "AS":
            i += 1
        if i >= len(words):
            raise EngineError(f"COPY option {words[i - 1]} needs a value")
        value = words[i]
        i += 1
        return value[1:-1].replace("''", "'") if value.startswith("'") else value

    while i < len(words):
        word = words[i].upper()
        i += 1
        if word in ("FORMAT",):
            cmd.format = take_value().upper()
        elif word in ("CSV", "PARQUET"):
            cmd.format = word
        elif word == "DELIMITER":
            cmd.delimiter = take_value()
        elif word == "QUOTE":
            cmd.quote = take_value()
        elif word == "IGNOREHEADER":
            cmd.ignore_header = int(take_value())
        elif word == "NULL":
            cmd.null_as = take_value()
        elif word == "EMPTYASNULL":
            cmd.empty_as_null = True
        elif word == "BLANKSASNULL":
            cmd.blanks_as_null = True
        elif word == "GZIP":
            cmd.gzip = True
        elif word == "DATEFORMAT":
            cmd.date_format = take_value()
        elif word == "TIMEFORMAT":
            cmd.time_format = take_value()
        elif word in _OPTIONS_WITH_VALUE:
            take_value()
        elif word in _IGNORED_COPY_OPTIONS:
            if i < len(words) and (words[i].upper() == "AS" or words[i].startswith("'")):
                take_value()
        else:
            raise EngineError(f"COPY option {words[i - 1]} is not supported by the local warehouse")
    if cmd.format not in ("TEXT", "CSV", "PARQUET"):
        raise EngineError(f"COPY FORMAT {cmd.format} is not supported by the local warehouse (CSV, PARQUET)")
    if not cmd.source.lower().startswith("s3://"):
        raise EngineError(f"COPY source must be an s3:// path, not {cmd.source!r}")
    return cmd


_REDSHIFT_TO_STRFTIME = [("YYYY", "%Y"), ("YY", "%y"), ("MM", "%m"), ("DD", "%d"), ("HH24", "%H"),
                         ("HH12", "%I"), ("HH", "%H"), ("MI", "%M"), ("SS", "%S"), ("MON", "%b")]


def _strftime(redshift_format: str) -> str:
    for token, code in _REDSHIFT_TO_STRFTIME:
        redshift_format = redshift_format.replace(token, code)
    return redshift_format


# ---------------------------------------------------------------- the warehouse


class Warehouse:
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
                            raise EngineError(_clean_error(exc), number) from None
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
            return Result(sql=statement, rows_affected=self._copy(cursor, parse_copy(statement)))
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

    # ------------------------------------------------------------ COPY

    def _copy(self, cursor: duckdb.DuckDBPyConnection, cmd: CopyCommand) -> int:
        if self._s3_reader is None:
            raise EngineError("COPY needs an S3 reader, and this warehouse has none")
        target = _table_sql(cmd.table)
        described = cursor.execute(f"DESCRIBE {target}").fetchall()
        types = {row[0].lower(): row[1] for row in described}
        names = {row[0].lower(): row[0] for row in described}
        columns = [c.lower() for c in cmd.columns] if cmd.columns else list(types)
        unknown = [c for c in columns if c not in types]
        if unknown:
            raise EngineError(f'column "{unknown[0]}" of relation "{cmd.table}" does not exist')
        bucket, _, prefix = cmd.source[len("s3://"):].partition("/")
        with tempfile.TemporaryDirectory(prefix="copy-") as tmp:
            files: dict[str, str] = {}  # local file -> s3 uri, to name the file in error messages
            for number, (key, body) in enumerate(self._s3_reader(bucket, prefix)):
                if key.endswith("/") and not body:
                    continue  # a "folder" marker object
                local = Path(tmp) / f"{number:05d}-{Path(key).name}"
                local.write_bytes(body)
                files[str(local)] = f"s3://{bucket}/{key}"
            if not files:
                raise EngineError(f"The specified S3 prefix '{prefix}' does not exist")
            file_list = "[" + ", ".join(_sql_str(f) for f in files) + "]"
            quoted = [exp.to_identifier(names[c]).sql(dialect="duckdb", identify=True) for c in columns]
            if cmd.format == "PARQUET":
                # Redshift maps columnar files by position: file column i -> target column i.
                source = f"SELECT * FROM read_parquet({file_list})"  # noqa: S608 (paths are quoted literals)
            else:
                source = _csv_select(cmd, columns, types, file_list)
            insert = f"INSERT INTO {target} ({', '.join(quoted)}) {source}"  # noqa: S608 (identifiers quoted)
            try:
                return int(cursor.execute(insert).fetchone()[0])
            except duckdb.Error as exc:
                message = _clean_error(exc)
                if cmd.format != "PARQUET":  # the failed transaction is unusable: look on a side connection
                    side = self._db.cursor()
                    try:
                        message = _locate_bad_csv_row(side, cmd, columns, types, file_list) or message
                    finally:
                        side.close()
                for local, uri in files.items():
                    message = message.replace(local, uri)
                raise EngineError(f"COPY {cmd.table} failed: {message}") from None


def _null_marker(cmd: CopyCommand) -> str:
    # Redshift's default NULL AS is '\N' for delimited text; in CSV mode an empty field is the usual null.
    return cmd.null_as if cmd.null_as is not None else ("" if cmd.format == "CSV" else "\\N")


def _read_csv(cmd: CopyCommand, file_list: str, columns: dict[str, str], **extra: str) -> str:
    csv = cmd.format == "CSV"
    options = {
        "columns": "{" + ", ".join(f"{_sql_str(c)}: {_sql_str(t)}" for c, t in columns.items()) + "}",
        "header": "false",
        "skip": str(cmd.ignore_header),
        "delim": _sql_str(cmd.delimiter if cmd.delimiter is not None else ("," if csv else "|")),
        "quote": _sql_str(cmd.quote if csv else ""),
        "escape": _sql_str(cmd.quote if csv else ""),
        "auto_detect": "false",
        **({"compression": "'gzip'"} if cmd.gzip else {}),
        **extra,
    }
    return f"read_csv({file_list}, {', '.join(f'{k}={v}' for k, v in options.items())})"


def _csv_select(cmd: CopyCommand, columns: list[str], types: dict[str, str], file_list: str) -> str:
    """Read every field as raw text, then apply Redshift's rules in SQL (vectorised, no Python per row):
    the NULL AS marker is NULL; an empty field is NULL for non-text columns, and for text columns only with
    EMPTYASNULL (BLANKSASNULL: whitespace-only too); everything else is cast to the column's type."""
    raw = _read_csv(cmd, file_list, dict.fromkeys(columns, "VARCHAR"), nullstr="''",
                    force_not_null="[" + ", ".join(_sql_str(c) for c in columns) + "]")
    marker = _sql_str(_null_marker(cmd))
    select = []
    for column in columns:
        v = exp.to_identifier(column).sql(dialect="duckdb", identify=True)
        target_type = types[column]
        if target_type.upper().startswith("VARCHAR"):
            empty = f"trim({v}) = ''" if cmd.blanks_as_null else f"{v} = ''" if cmd.empty_as_null else "FALSE"
            converted = v
        else:
            empty = f"trim({v}) = ''"
            converted = f"CAST({v} AS {target_type})"
            if target_type == "DATE" and cmd.date_format and cmd.date_format.lower() != "auto":
                converted = f"CAST(strptime({v}, {_sql_str(_strftime(cmd.date_format))}) AS DATE)"
            elif target_type.startswith("TIMESTAMP") and cmd.time_format and cmd.time_format.lower() != "auto":
                converted = f"strptime({v}, {_sql_str(_strftime(cmd.time_format))})"
        select.append(f"CASE WHEN {v} = {marker} OR {empty} THEN NULL ELSE {converted} END")
    return f"SELECT {', '.join(select)} FROM {raw}"  # noqa: S608 (identifiers and literals quoted)


def _locate_bad_csv_row(cursor, cmd: CopyCommand, columns: list[str], types: dict[str, str],
                        file_list: str) -> str | None:
    """Re-read with DuckDB's typed CSV reader, whose conversion errors name the file and line."""
    nulls = "[" + ", ".join(_sql_str(s) for s in dict.fromkeys([_null_marker(cmd), ""])) + "]"
    typed = _read_csv(cmd, file_list, {c: types[c] for c in columns}, nullstr=nulls)
    try:
        # count(column) for every column: forces each value to be converted (count(*) would skip that).
        counts = ", ".join(f"count({exp.to_identifier(c).sql(dialect='duckdb', identify=True)})" for c in columns)
        cursor.execute(f"SELECT {counts} FROM {typed}")  # noqa: S608 (all quoted)
    except duckdb.Error as exc:
        return _clean_error(exc)
    return None


def _clean_error(exc: duckdb.Error) -> str:
    """DuckDB's message without its multi-line advice: the lines that say what and where."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    keep = [lines[0]] if lines else [type(exc).__name__]
    for line in lines[1:]:
        if line.startswith(("Original Line", "Error when converting", "file =", "LINE ")):
            keep.append(line)
    return " | ".join(keep)
