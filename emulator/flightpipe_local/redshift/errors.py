"""The error a failing statement raises, worded as Redshift words it (PostgreSQL's messages, which Redshift keeps:
relation "x" does not exist, column "x" does not exist, syntax error at or near "x", value too long for type
character varying(n), division by zero …), plain text without terminal escape codes."""

from __future__ import annotations

import re

import duckdb

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class EngineError(Exception):
    """A statement failed. `statement_index` is its 1-based position in the call (batch or multi-statement)."""

    def __init__(self, message: str, statement_index: int = 1):
        super().__init__(_ANSI.sub("", message))
        self.statement_index = statement_index


_DUCKDB_TO_REDSHIFT: list[tuple[re.Pattern, str]] = [(re.compile(p, re.DOTALL), r) for p, r in [
    (r"Table with name (?P<name>[^ ]+) does not exist", 'relation "{name}" does not exist'),
    (r'Table with name "(?P<name>[^"]+)" does not exist', 'relation "{name}" does not exist'),
    (r"View with name (?P<name>[^ ]+) does not exist", 'relation "{name}" does not exist'),
    (r'Table with name "(?P<name>[^"]+)" already exists', 'relation "{name}" already exists'),
    (r'View with name "(?P<name>[^"]+)" already exists', 'relation "{name}" already exists'),
    (r"Schema with name (?P<name>[^ ]+) does not exist", 'schema "{name}" does not exist'),
    (r'Schema with name "(?P<name>[^"]+)" already exists', 'schema "{name}" already exists'),
    (r'Referenced column "(?P<name>[^"]+)" not found', 'column "{name}" does not exist'),
    (r'Table "(?P<table>[^"]+)" does not have a column named "(?P<name>[^"]+)"',
     'column "{name}" of relation "{table}" does not exist'),
    (r"CHECK constraint failed.*strlen\((?P<col>[^)]*)\) <= (?P<n>\d+)", "value too long for type character "
     "varying({n})"),
    (r"NOT NULL constraint failed: [^.]+\.(?P<col>\S+)", "Cannot insert a NULL value into column {col}"),
    (r"Could not convert string '(?P<value>[^']*)' to INT\d+", 'invalid input syntax for integer: "{value}"'),
    (r"Could not convert string '(?P<value>[^']*)' to (DOUBLE|FLOAT|DECIMAL)",
     'invalid input syntax for type numeric: "{value}"'),
    (r"invalid date field format: \"(?P<value>[^\"]*)\"", 'invalid input syntax for type date: "{value}"'),
    (r"Division by zero", "division by zero"),
    (r"Scalar Function with name (?P<name>\w+) does not exist", "function {name} does not exist"),
    (r"Overflow", "Numeric data overflow (result precision)"),
    (r"syntax error at or near (?P<near>\S+)", "syntax error at or near {near}"),
    (r"table \"(?P<t>[^\"]+)\" has (?P<n>\d+) columns but (?P<m>\d+) values were supplied",
     "INSERT has more expressions than target columns"),
]]


def redshift_message(text: str) -> str:
    """Redshift's words for a DuckDB failure, or DuckDB's first line when there is no close equivalent."""
    text = _ANSI.sub("", text)
    for pattern, wording in _DUCKDB_TO_REDSHIFT:
        match = pattern.search(text)
        if match:
            return wording.format(**match.groupdict())
    return clean_error_text(text)


def clean_error_text(text: str) -> str:
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines() if line.strip()]
    keep = [re.sub(r"^[A-Z][A-Za-z ]* Error: ", "", lines[0])] if lines else ["error"]
    for line in lines[1:]:
        if line.startswith(("Original Line", "Error when converting", "file =")):
            keep.append(line)
    return " | ".join(keep)


def clean_error(exc: duckdb.Error) -> str:
    """DuckDB's message without its multi-line advice: the lines that say what and where."""
    return clean_error_text(str(exc)) if str(exc) else type(exc).__name__
