"""COPY's parameters, parsed and checked against Redshift's option matrix per format.

Sources: doc "COPY" (https://docs.aws.amazon.com/redshift/latest/dg/r_COPY.html), doc "Data format parameters",
doc "Data conversion parameters", doc "COPY from columnar data formats"
(https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-copy-from-columnar.html): only ACCEPTINVCHARS,
FILLRECORD, FROM, IAM_ROLE, CREDENTIALS, STATUPDATE, MANIFEST and EXPLICIT_IDS apply to Parquet; REGION is refused
("REGION argument is not supported for PARQUET based COPY"), and so are ACCEPTANYDATE and MAXERROR.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import sqlglot

from flightpipe_local.redshift.errors import EngineError
from flightpipe_local.redshift.option_words import OptionWords


@dataclass
class CopyCommand:
    table: str
    columns: list[str] | None
    source: str  # s3://bucket/prefix, or the manifest's s3:// path
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
    max_error: int = 0
    escape: bool = False
    remove_quotes: bool = False
    fill_record: bool = False
    truncate_columns: bool = False
    trim_blanks: bool = False
    accept_any_date: bool = False
    manifest: bool = False
    options: list[str] = field(default_factory=list)  # every parameter named, upper case


_COPY_HEAD = re.compile(
    r"^\s*COPY\s+(?P<table>[\w.\"$]+)\s*(?:\((?P<columns>[^)]*)\))?\s+FROM\s+'(?P<source>[^']*)'(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_WITH_VALUE = {"IAM_ROLE", "CREDENTIALS", "REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN",
               "MAXERROR", "COMPUPDATE", "STATUPDATE", "DELIMITER", "QUOTE", "IGNOREHEADER", "NULL",
               "DATEFORMAT", "TIMEFORMAT", "FORMAT", "ENCODING"}
_OPTIONAL_VALUE = {"ACCEPTINVCHARS", "COMPUPDATE", "STATUPDATE"}
_FLAGS = {"CSV", "PARQUET", "EMPTYASNULL", "BLANKSASNULL", "GZIP", "ESCAPE", "REMOVEQUOTES", "FILLRECORD",
          "TRUNCATECOLUMNS", "TRIMBLANKS", "ACCEPTANYDATE", "MANIFEST", "EXPLICIT_IDS", "ROUNDEC",
          "IGNOREBLANKLINES", "ACCEPTINVCHARS", "COMPUPDATE", "STATUPDATE"}
_COLUMNAR_ALLOWED = {"ACCEPTINVCHARS", "FILLRECORD", "IAM_ROLE", "CREDENTIALS", "STATUPDATE", "MANIFEST",
                     "EXPLICIT_IDS", "FORMAT", "PARQUET", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN",
                     "COMPUPDATE"}
# the parameters that only set one field of CopyCommand: to their value, or to True
_VALUE_ATTRIBUTE = {"DELIMITER": "delimiter", "QUOTE": "quote", "NULL": "null_as", "DATEFORMAT": "date_format",
                    "TIMEFORMAT": "time_format"}
_FLAG_ATTRIBUTE = {"EMPTYASNULL": "empty_as_null", "BLANKSASNULL": "blanks_as_null", "GZIP": "gzip",
                   "ESCAPE": "escape", "REMOVEQUOTES": "remove_quotes", "FILLRECORD": "fill_record",
                   "TRUNCATECOLUMNS": "truncate_columns", "TRIMBLANKS": "trim_blanks",
                   "ACCEPTANYDATE": "accept_any_date", "MANIFEST": "manifest"}
_NOT_EMULATED = {  # Redshift accepts these; the local warehouse cannot do what they ask
    "JSON": "COPY FORMAT JSON", "AVRO": "COPY FORMAT AVRO", "ORC": "COPY FORMAT ORC", "FIXEDWIDTH": "FIXEDWIDTH",
    "SHAPEFILE": "COPY FORMAT SHAPEFILE", "BZIP2": "BZIP2", "LZOP": "LZOP", "ZSTD": "ZSTD",
    "ENCRYPTED": "ENCRYPTED", "SSH": "COPY from SSH", "NOLOAD": "NOLOAD", "READRATIO": "READRATIO",
    "ROUNDEC": "ROUNDEC", "IGNOREBLANKLINES": "IGNOREBLANKLINES",
}


@functools.lru_cache(maxsize=1024)
def is_copy(statement: str) -> bool:
    tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(statement)
    return bool(tokens) and tokens[0].text.upper() == "COPY"


def without_leading_comments(statement: str) -> str:
    return re.sub(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", "", statement, flags=re.DOTALL)


def parse_copy(statement: str) -> CopyCommand:
    match = _COPY_HEAD.match(without_leading_comments(statement))
    if not match:
        raise EngineError("COPY must look like: COPY schema.table [(columns)] FROM 's3://bucket/prefix' options")
    columns = [c.strip().strip('"').lower() for c in match["columns"].split(",")] if match["columns"] else None
    cmd = CopyCommand(table=match["table"], columns=columns, source=match["source"])
    words = OptionWords("COPY", match["rest"])

    def value_follows() -> bool:
        word = words.peek()
        return word is not None and (word.upper() in ("AS", "ON", "OFF", "TRUE", "FALSE", "DEFAULT")
                                     or word.startswith("'") or word.isdigit())

    while words:
        written = words.take()
        word = written.upper()
        if word in _NOT_EMULATED:
            raise EngineError(f"{_NOT_EMULATED[word]} is not supported by the local warehouse")
        if word not in _WITH_VALUE and word not in _FLAGS:
            raise EngineError(f'syntax error at or near "{written}"')
        cmd.options.append(word)
        takes_value = word in _WITH_VALUE and word not in _OPTIONAL_VALUE or word in _OPTIONAL_VALUE and value_follows()
        value = words.value(word)[0] if takes_value else None
        _apply(cmd, word, value)
    _check_matrix(cmd)
    return cmd


def _apply(cmd: CopyCommand, word: str, value: str | None) -> None:
    if word == "FORMAT":
        cmd.format = value.upper()
        if cmd.format in _NOT_EMULATED:
            raise EngineError(f"{_NOT_EMULATED[cmd.format]} is not supported by the local warehouse")
    elif word in ("CSV", "PARQUET"):
        cmd.format = word
    elif word in _VALUE_ATTRIBUTE:
        setattr(cmd, _VALUE_ATTRIBUTE[word], value)
    elif word == "IGNOREHEADER":
        cmd.ignore_header = int(value)
    elif word == "MAXERROR":
        cmd.max_error = min(int(value), 100000)  # doc: larger values are treated as 100000
    elif word == "ENCODING" and value.upper() not in ("UTF8", "UTF-8"):
        raise EngineError(f"COPY ENCODING {value} is not supported by the local warehouse (UTF8 only)")
    elif word in _FLAG_ATTRIBUTE:
        setattr(cmd, _FLAG_ATTRIBUTE[word], True)


def _check_matrix(cmd: CopyCommand) -> None:
    if cmd.format not in ("TEXT", "CSV", "PARQUET"):
        raise EngineError(f"COPY FORMAT {cmd.format} is not supported by the local warehouse (CSV, PARQUET)")
    if not cmd.source.lower().startswith("s3://"):
        raise EngineError(f"COPY source must be an s3:// path, not {cmd.source!r}")
    if cmd.format == "PARQUET":
        for option in cmd.options:
            if option not in _COLUMNAR_ALLOWED:
                raise EngineError(f"{option} argument is not supported for PARQUET based COPY")
    if cmd.format == "CSV" and (cmd.escape or cmd.remove_quotes):
        word = "ESCAPE" if cmd.escape else "REMOVEQUOTES"
        raise EngineError(f"CSV is not compatible with {word}")  # doc "Data format parameters": CSV
    if cmd.format == "CSV" and cmd.delimiter is not None and cmd.delimiter == cmd.quote:
        raise EngineError("COPY delimiter and quote character must be different")
