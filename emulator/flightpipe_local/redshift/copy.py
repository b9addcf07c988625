# ruff: noqa: S608 - SQL here is built from quoted identifiers and literals; values travel as parameters
"""COPY … FROM 's3://…' into a table: loaded with DuckDB's CSV/Parquet readers from files fetched through the
stack's S3 (an injectable reader); parameters in copy_options.py.

Delimited files are read as raw text, every field is converted in SQL (vectorised), and each row a field of which
cannot be converted is a load error: up to MAXERROR of them are skipped, more fail the COPY with Redshift's message
("Load into table 't' failed. Check 'stl_load_errors' system table for details."), and the errors are kept in
stl_load_errors with the file, line, column, raw value and a code from doc "Load error reference"
(https://docs.aws.amazon.com/redshift/latest/dg/r_Load_Error_Reference.html).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import duckdb
from sqlglot import exp

from flightpipe_local.redshift.catalog import CATALOG
from flightpipe_local.redshift.copy_formats import field_checks
from flightpipe_local.redshift.copy_options import CopyCommand, is_copy, parse_copy
from flightpipe_local.redshift.errors import EngineError, clean_error, redshift_message
from flightpipe_local.redshift.translate import sql_str, table_sql

__all__ = ["LoadFailed", "S3Reader", "copy_from_s3", "is_copy", "parse_copy"]

# (bucket, key prefix) -> every object whose key starts with the prefix, as (key, bytes).
S3Reader = Callable[[str, str], Iterable[tuple[str, bytes]]]
_MISSING = "\x01missing\x01"  # what the reader puts in fields a short line does not have


class LoadFailed(EngineError):
    """A COPY failed on its data; `rows` are its stl_load_errors rows."""

    def __init__(self, table: str, rows: list[tuple]):
        super().__init__(f"Load into table '{table.split('.')[-1]}' failed. "
                         "Check 'stl_load_errors' system table for details.")
        self.rows = rows


def copy_from_s3(db: duckdb.DuckDBPyConnection, cursor: duckdb.DuckDBPyConnection, cmd: CopyCommand,
                 s3_reader: S3Reader | None) -> int:
    """Run one COPY on `cursor` (inside the caller's transaction); the number of rows loaded."""
    if s3_reader is None:
        raise EngineError("COPY needs an S3 reader, and this warehouse has none")
    target = table_sql(cmd.table)
    try:
        described = cursor.execute(f"DESCRIBE {target}").fetchall()
    except duckdb.Error as exc:
        raise EngineError(redshift_message(str(exc))) from None
    types = {row[0].lower(): row[1] for row in described}
    names = {row[0].lower(): row[0] for row in described}
    columns = cmd.columns or list(types)
    unknown = [c for c in columns if c not in types]
    if unknown:
        raise EngineError(f'column "{unknown[0]}" of relation "{cmd.table.split(".")[-1]}" does not exist')
    with tempfile.TemporaryDirectory(prefix="copy-") as tmp:
        files = _fetch(cmd, s3_reader, Path(tmp))
        quoted = [exp.to_identifier(names[c]).sql(dialect="duckdb", identify=True) for c in columns]
        insert = f"INSERT INTO {target} ({', '.join(quoted)}) "
        if cmd.format == "PARQUET":
            return _copy_parquet(cursor, cmd, insert, files, len(columns))
        return _copy_delimited(cursor, cmd, insert, files, columns, types, _lengths(cursor, cmd.table))


def _fetch(cmd: CopyCommand, s3_reader: S3Reader, tmp: Path) -> dict[str, str]:
    """The objects COPY reads, written to `tmp`: local path -> s3 uri (to name files in errors)."""
    bucket, _, prefix = cmd.source[len("s3://"):].partition("/")
    if cmd.manifest:
        wanted = _manifest_entries(s3_reader, bucket, prefix)
        objects = []
        for url, mandatory in wanted:
            b, _, key = url[len("s3://"):].partition("/")
            found = [(k, body) for k, body in s3_reader(b, key) if k == key]
            if not found and mandatory:
                raise EngineError(f"Manifest file entry '{url}' is mandatory and does not exist")
            objects += [(f"s3://{b}/{k}", body) for k, body in found]
    else:
        objects = [(f"s3://{bucket}/{k}", body) for k, body in s3_reader(bucket, prefix)
                   if not (k.endswith("/") and not body)]  # a "folder" marker object
    if not objects:
        raise EngineError(f"The specified S3 prefix '{prefix}' does not exist")
    files = {}
    for number, (uri, body) in enumerate(objects):
        local = tmp / f"{number:05d}-{Path(uri).name}"
        local.write_bytes(body)
        files[str(local)] = uri
    return files


def _manifest_entries(s3_reader: S3Reader, bucket: str, key: str) -> list[tuple[str, bool]]:
    bodies = [body for k, body in s3_reader(bucket, key) if k == key]
    if not bodies:
        raise EngineError(f"The specified S3 prefix '{key}' does not exist")
    try:
        entries = json.loads(bodies[0])["entries"]
        return [(e["url"], bool(e.get("mandatory", False))) for e in entries]
    except (ValueError, KeyError, TypeError):
        raise EngineError(f"Manifest file s3://{bucket}/{key} is not valid JSON with an entries list") from None


def _lengths(cursor: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    """VARCHAR(n) lengths of the table's columns, from the catalog."""
    parts = table.lower().replace('"', "").split(".")
    rows = cursor.execute(
        f"SELECT column_name, rs_type FROM {CATALOG}.user_columns WHERE table_name = ? "
        "AND (? IS NULL OR schema_name = ?)", [parts[-1], parts[0] if len(parts) > 1 else None,
                                                 parts[0] if len(parts) > 1 else None]).fetchall()
    lengths = {}
    for column, rs_type in rows:
        match = re.match(r"character(?: varying)?\((\d+)\)", rs_type or "")
        if match:
            lengths[column.lower()] = int(match.group(1))
    return lengths


def _copy_parquet(cursor, cmd: CopyCommand, insert: str, files: dict[str, str], width: int) -> int:
    # Redshift maps columnar files by position: file column i -> target column i; the counts must match.
    file_list = "[" + ", ".join(sql_str(f) for f in files) + "]"
    try:
        found = len(cursor.execute(f"DESCRIBE SELECT * FROM read_parquet({file_list})").fetchall())
        if found != width:
            raise EngineError(f"The number of columns in the target table ({width}) and in the data file ({found}) "
                              "must match for a columnar COPY")
        return int(cursor.execute(insert + f"SELECT * FROM read_parquet({file_list})").fetchone()[0])  # noqa: S608
    except duckdb.Error as exc:
        message = redshift_message(str(exc))
        for local, uri in files.items():
            message = message.replace(local, uri)
        raise EngineError(f"COPY {cmd.table} failed: {message}") from None


def _copy_delimited(cursor, cmd: CopyCommand, insert: str, files: dict[str, str], columns: list[str],
                    types: dict[str, str], lengths: dict[str, int]) -> int:
    raw = "__copy_raw"
    parts = []
    for local in files:
        if cmd.escape:
            _unescape_file(Path(local), cmd)
        parts.append(f"SELECT *, {sql_str(files[local])} AS __file, ordinality + {cmd.ignore_header} AS __line "
                     f"FROM {_read_csv(cmd, local, len(columns))} WITH ORDINALITY")  # noqa: S608
    try:
        cursor.execute(f"CREATE OR REPLACE TEMP TABLE {raw} AS " + " UNION ALL ".join(parts))
    except duckdb.Error as exc:
        message = clean_error(exc)
        for local, uri in files.items():
            message = message.replace(local, uri)
        raise EngineError(f"COPY {cmd.table} failed: {message}") from None
    checks = [field_checks(cmd, f"f{i}", column, types[column], lengths.get(column), _MISSING)
              for i, column in enumerate(columns)]
    bad_any = " OR ".join(f"({c.bad})" for c in checks) or "FALSE"
    extra = f"f{len(columns)} IS NOT NULL AND f{len(columns)} <> {sql_str(_MISSING)}"
    reject = f"({bad_any}) OR ({extra})"
    bad_rows = cursor.execute(f"SELECT count(*) FROM {raw} WHERE {reject}").fetchone()[0]  # noqa: S608
    if bad_rows > cmd.max_error:
        raise LoadFailed(cmd.table, _load_errors(cursor, raw, cmd, columns, checks, extra))
    converted = ", ".join(c.value for c in checks)
    loaded = cursor.execute(insert + f"SELECT {converted} FROM {raw} WHERE NOT ({reject}) "  # noqa: S608
                            "ORDER BY __file, __line").fetchone()[0]
    cursor.execute(f"DROP TABLE {raw}")
    return int(loaded)


def _read_csv(cmd: CopyCommand, local: str, width: int) -> str:
    csv = cmd.format == "CSV"
    # One column more than the table: a non-empty last field means the line had too many fields.
    names = ", ".join(f"'f{i}': 'VARCHAR'" for i in range(width + 1))
    options = {
        "columns": "{" + names + "}", "header": "false", "skip": str(cmd.ignore_header),
        "delim": sql_str(cmd.delimiter if cmd.delimiter is not None else ("," if csv else "|")),
        "quote": sql_str(cmd.quote if csv else ('"' if cmd.remove_quotes else "")),
        "escape": sql_str(cmd.quote if csv else ('"' if cmd.remove_quotes else "")),
        "auto_detect": "false", "null_padding": "true", "nullstr": sql_str(_MISSING), "strict_mode": "false",
        "parallel": "false",  # null_padding with quoted newlines needs a serial read
        **({"compression": "'gzip'"} if cmd.gzip else {}),
    }
    return f"read_csv({sql_str(local)}, {', '.join(f'{k}={v}' for k, v in options.items())})"


def _unescape_file(path: Path, cmd: CopyCommand) -> None:
    """ESCAPE: a backslash makes the next character (delimiter, newline, backslash) plain data. Rewritten as CSV
    with quotes, which the reader then reads; the format becomes quoted text for this file."""
    delimiter = cmd.delimiter or "|"
    text = path.read_bytes().decode("utf-8")
    records, fields, current, i = [], [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            i += 2
            continue
        if char == delimiter:
            fields.append("".join(current))
            current = []
        elif char == "\n":
            fields.append("".join(current))
            records.append(fields)
            fields, current = [], []
        else:
            current.append(char)
        i += 1
    if current or fields:
        fields.append("".join(current))
        records.append(fields)
    quote = '"'
    lines = [delimiter.join(quote + f.replace(quote, quote * 2) + quote for f in record) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cmd.remove_quotes = True


def _load_errors(cursor, raw: str, cmd: CopyCommand, columns: list[str], checks, extra: str) -> list[tuple]:
    """stl_load_errors rows for the first MAXERROR + 1 bad lines (one row per line, its first bad field)."""
    cases = " ".join(f"WHEN {c.bad} THEN {i}" for i, c in enumerate(checks))
    fields = "[" + ", ".join(f"f{i}" for i in range(len(columns))) + "]"
    rows = cursor.execute(
        f"SELECT __file, __line, CASE WHEN {extra} THEN -1 {cases} END AS bad_column, {fields} AS raw "
        f"FROM {raw} WHERE ({' OR '.join(f'({c.bad})' for c in checks) or 'FALSE'}) OR ({extra}) "  # noqa: S608
        f"ORDER BY __file, __line LIMIT {cmd.max_error + 1}").fetchall()
    delimiter = cmd.delimiter if cmd.delimiter is not None else ("," if cmd.format == "CSV" else "|")
    result = []
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for file, line, bad_column, raw_fields in rows:
        values = [v for v in raw_fields if v is not None and v != _MISSING]
        raw_line = delimiter.join(values)[:1024]
        if bad_column == -1:
            colname, col_type, value, code, reason = "", "", "", 1214, "Extra column(s) found"
        else:
            check = checks[bad_column]
            value = raw_fields[bad_column] if raw_fields[bad_column] != _MISSING else ""
            code, reason = check.reason(value)
            colname, col_type = columns[bad_column], check.type_name
        result.append((100, 0, 0, started, 0, 0, file, line, colname, col_type, check_length(checks, bad_column),
                       0, raw_line, (value or "")[:1024], code, reason, 0, 0))
    return result


def check_length(checks, index: int) -> str:
    return str(checks[index].length or 0) if index >= 0 else "0"
