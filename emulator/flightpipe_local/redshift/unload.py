# ruff: noqa: S608 - SQL here is built from quoted identifiers and literals; values travel as parameters
"""UNLOAD ('select …') TO 's3://bucket/prefix' to the local S3 through an injectable writer.

Source: doc "UNLOAD" (https://docs.aws.amazon.com/redshift/latest/dg/r_UNLOAD.html). Formats: pipe-delimited
text (the default), CSV and PARQUET; HEADER, DELIMITER, NULL AS, ADDQUOTES, GZIP, MANIFEST [VERBOSE],
ALLOWOVERWRITE, PARALLEL ON|OFF. Files are named as Redshift names them with a single slice: `<prefix>0000_part_00`
(PARALLEL ON) or `<prefix>000` (PARALLEL OFF), with `.parquet` / `.gz` extensions; the manifest is
`<prefix>manifest`. Without ALLOWOVERWRITE an existing file under the prefix fails the UNLOAD, as on Redshift.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import functools
import gzip
import io
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import sqlglot

from flightpipe_local.redshift.errors import EngineError, redshift_message
from flightpipe_local.redshift.option_words import OptionWords
from flightpipe_local.redshift.translate import sql_str

S3Writer = Callable[[str, str, bytes], None]  # (bucket, key, body)

_HEAD = re.compile(r"^\s*UNLOAD\s*\(\s*'(?P<query>(?:[^']|'')*)'\s*\)\s*TO\s+'(?P<target>[^']*)'(?P<rest>.*)$",
                   re.IGNORECASE | re.DOTALL)
_WITH_VALUE = {"IAM_ROLE", "CREDENTIALS", "FORMAT", "DELIMITER", "NULL", "PARALLEL", "REGION", "MAXFILESIZE",
               "ROWGROUPSIZE", "EXTENSION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN"}
_FLAGS = {"HEADER", "CSV", "PARQUET", "GZIP", "MANIFEST", "VERBOSE", "ALLOWOVERWRITE", "ADDQUOTES", "CLEANPATH",
          "ESCAPE"}
_NOT_EMULATED = {"JSON", "FIXEDWIDTH", "BZIP2", "ZSTD", "ENCRYPTED", "KMS_KEY_ID", "PARTITION", "MASTER_SYMMETRIC_KEY"}


@functools.lru_cache(maxsize=256)
def is_unload(statement: str) -> bool:
    tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(statement)
    return bool(tokens) and tokens[0].text.upper() == "UNLOAD"


def _options(rest: str) -> dict[str, str | bool]:
    words = OptionWords("UNLOAD", rest)
    options: dict[str, str | bool] = {"FORMAT": "TEXT", "PARALLEL": "ON"}
    while words:
        written = words.take()
        word = written.upper()
        if word in _NOT_EMULATED:
            raise EngineError(f"UNLOAD {word} is not supported by the local warehouse")
        if word in ("CSV", "PARQUET"):
            options["FORMAT"] = word
        elif word in _WITH_VALUE:
            value, quoted = words.value(word)
            options[word] = value if quoted else value.upper()
        elif word in _FLAGS:
            options[word] = True
        else:
            raise EngineError(f'syntax error at or near "{written}"')
    if options["FORMAT"] == "JSON":
        raise EngineError("UNLOAD FORMAT JSON is not supported by the local warehouse")
    if options["FORMAT"] == "PARQUET":
        for refused in ("HEADER", "DELIMITER", "NULL", "ADDQUOTES", "GZIP", "ESCAPE"):
            if refused in options:
                raise EngineError(f"{refused} option is not supported with PARQUET format for UNLOAD")
    return options


def unload_to_s3(cursor: duckdb.DuckDBPyConnection, statement: str, params, s3_reader, s3_writer: S3Writer | None,
                 translate: Callable[[str], list[str]]) -> int:
    """Run the UNLOAD; the number of rows written."""
    match = _HEAD.match(statement)
    if not match:
        raise EngineError("UNLOAD must look like: UNLOAD ('select …') TO 's3://bucket/prefix' IAM_ROLE … options")
    if s3_writer is None:
        raise EngineError("UNLOAD needs an S3 writer, and this warehouse has none")
    query, target = match["query"].replace("''", "'"), match["target"]
    if not target.lower().startswith("s3://"):
        raise EngineError(f"UNLOAD target must be an s3:// path, not {target!r}")
    options = _options(match["rest"])
    bucket, _, prefix = target[len("s3://"):].partition("/")
    if s3_reader is not None and not options.get("ALLOWOVERWRITE") and not options.get("CLEANPATH"):
        if any(True for _ in s3_reader(bucket, prefix)):
            raise EngineError("Specified unload destination on S3 is not empty. Consider using a different bucket "
                              "/ prefix, manually removing the target files in S3, or using the ALLOWOVERWRITE "
                              "option.")
    sqls = translate(query)
    if not sqls:
        raise EngineError("UNLOAD needs a SELECT statement")
    for sql in sqls[:-1]:
        cursor.execute(sql)
    parallel = str(options["PARALLEL"]) in ("ON", "TRUE")
    name = f"{prefix}{'0000_part_00' if parallel else '000'}"
    try:
        if options["FORMAT"] == "PARQUET":
            body, rows, columns = _parquet(cursor, sqls[-1])
            name += ".parquet"
        else:
            cursor.execute(sqls[-1])
            columns = [d[0].lower() for d in cursor.description]
            data = cursor.fetchall()
            rows = len(data)
            body = _delimited(columns, data, options)
            if options.get("GZIP"):
                body, name = gzip.compress(body), name + ".gz"
    except duckdb.Error as exc:
        raise EngineError(redshift_message(str(exc))) from None
    s3_writer(bucket, name, body)
    if options.get("MANIFEST"):
        entry: dict = {"url": f"s3://{bucket}/{name}"}
        manifest: dict = {"entries": [entry]}
        if options.get("VERBOSE"):
            entry["meta"] = {"content_length": len(body), "record_count": rows}
            manifest["schema"] = {"elements": [{"name": c} for c in columns]}
            manifest["meta"] = {"content_length": len(body), "record_count": rows}
        s3_writer(bucket, f"{prefix}manifest", json.dumps(manifest, indent=1).encode())
    return rows


def _parquet(cursor: duckdb.DuckDBPyConnection, sql: str) -> tuple[bytes, int, list[str]]:
    with tempfile.TemporaryDirectory(prefix="unload-") as tmp:
        path = Path(tmp) / "part.parquet"
        columns = [d[0].lower() for d in cursor.execute(f"DESCRIBE {sql}").fetchall()]
        cursor.execute(f"COPY ({sql}) TO {sql_str(str(path))} (FORMAT PARQUET)")
        rows = cursor.execute(f"SELECT count(*) FROM read_parquet({sql_str(str(path))})").fetchone()[0]
        return path.read_bytes(), int(rows), columns


def _text(value) -> str:
    """A value as Redshift writes it in delimited text: t/f for booleans, ISO dates and timestamps."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


def _delimited(columns: list[str], rows: list[tuple], options: dict) -> bytes:
    is_csv = options["FORMAT"] == "CSV"
    delimiter = str(options.get("DELIMITER") or ("," if is_csv else "|"))
    null = str(options.get("NULL", ""))
    out = io.StringIO()
    if is_csv:
        writer = csv.writer(out, delimiter=delimiter, quotechar='"', lineterminator="\n",
                            quoting=csv.QUOTE_MINIMAL)
        if options.get("HEADER"):
            writer.writerow(columns)
        for row in rows:
            writer.writerow([null if v is None else _text(v) for v in row])
        return out.getvalue().encode()
    quote = '"' if options.get("ADDQUOTES") else ""
    if options.get("HEADER"):
        out.write(delimiter.join(columns) + "\n")
    for row in rows:
        fields = []
        for value in row:
            text = null if value is None else _text(value)
            if options.get("ESCAPE"):
                text = re.sub(r"([\\\n\r" + re.escape(delimiter) + "])", r"\\\1", text)
            fields.append(f"{quote}{text}{quote}" if value is not None else text)
        out.write(delimiter.join(fields) + "\n")
    return out.getvalue().encode()
