"""COPY … FROM 's3://…' into a table: parsed here, loaded with DuckDB's CSV/Parquet readers from files fetched
through the stack's S3 (an injectable reader)."""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from flightpipe_local.redshift.errors import EngineError, clean_error
from flightpipe_local.redshift.translate import sql_str, table_sql

# (bucket, key prefix) -> every object whose key starts with the prefix, as (key, bytes).
S3Reader = Callable[[str, str], Iterable[tuple[str, bytes]]]



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



def copy_from_s3(db: duckdb.DuckDBPyConnection, cursor: duckdb.DuckDBPyConnection, cmd: CopyCommand,
                 s3_reader: S3Reader | None) -> int:
    """Run one COPY on `cursor` (inside the caller's transaction); the number of rows loaded."""
    if s3_reader is None:
        raise EngineError("COPY needs an S3 reader, and this warehouse has none")
    target = table_sql(cmd.table)
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
        for number, (key, body) in enumerate(s3_reader(bucket, prefix)):
            if key.endswith("/") and not body:
                continue  # a "folder" marker object
            local = Path(tmp) / f"{number:05d}-{Path(key).name}"
            local.write_bytes(body)
            files[str(local)] = f"s3://{bucket}/{key}"
        if not files:
            raise EngineError(f"The specified S3 prefix '{prefix}' does not exist")
        file_list = "[" + ", ".join(sql_str(f) for f in files) + "]"
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
            message = clean_error(exc)
            if cmd.format != "PARQUET":  # the failed transaction is unusable: look on a side connection
                side = db.cursor()
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
        "columns": "{" + ", ".join(f"{sql_str(c)}: {sql_str(t)}" for c, t in columns.items()) + "}",
        "header": "false",
        "skip": str(cmd.ignore_header),
        "delim": sql_str(cmd.delimiter if cmd.delimiter is not None else ("," if csv else "|")),
        "quote": sql_str(cmd.quote if csv else ""),
        "escape": sql_str(cmd.quote if csv else ""),
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
                    force_not_null="[" + ", ".join(sql_str(c) for c in columns) + "]")
    marker = sql_str(_null_marker(cmd))
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
                converted = f"CAST(strptime({v}, {sql_str(_strftime(cmd.date_format))}) AS DATE)"
            elif target_type.startswith("TIMESTAMP") and cmd.time_format and cmd.time_format.lower() != "auto":
                converted = f"strptime({v}, {sql_str(_strftime(cmd.time_format))})"
        select.append(f"CASE WHEN {v} = {marker} OR {empty} THEN NULL ELSE {converted} END")
    return f"SELECT {', '.join(select)} FROM {raw}"  # noqa: S608 (identifiers and literals quoted)


def _locate_bad_csv_row(cursor, cmd: CopyCommand, columns: list[str], types: dict[str, str],
                        file_list: str) -> str | None:
    """Re-read with DuckDB's typed CSV reader, whose conversion errors name the file and line."""
    nulls = "[" + ", ".join(sql_str(s) for s in dict.fromkeys([_null_marker(cmd), ""])) + "]"
    typed = _read_csv(cmd, file_list, {c: types[c] for c in columns}, nullstr=nulls)
    try:
        # count(column) for every column: forces each value to be converted (count(*) would skip that).
        counts = ", ".join(f"count({exp.to_identifier(c).sql(dialect='duckdb', identify=True)})" for c in columns)
        cursor.execute(f"SELECT {counts} FROM {typed}")  # noqa: S608 (all quoted)
    except duckdb.Error as exc:
        return clean_error(exc)
    return None
