"""What Glue's built-in CSV classifier infers from the head of one object, and Glue's exclusion globs.

Pure functions, used by the local crawler (`glue_crawler.py`): column names lower-cased, types `bigint` /
`double` / `string` from the sampled values, a header recognised the way Glue does it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

CSV_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
CSV_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
CSV_DELIMITERS = (",", "|", "\t", ";", "\x01")  # the ones Glue's built-in CSV classifier tries


_BIGINT = re.compile(r"^[+-]?\d+$")
_DOUBLE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_TYPE_RANK = {"bigint": 0, "double": 1, "string": 2}


def infer_type(values: Iterable[str]) -> str:
    """`bigint` if every non-empty value is an integer, `double` if numeric, else `string`.
    Empty values say nothing about the type; a column with no values at all is a `string`."""
    seen = {v.strip() for v in values}  # the type depends on the distinct values: a day repeats most of them
    seen.discard("")
    if not seen:
        return "string"
    if all(_BIGINT.match(v) and -(2**63) <= int(v) < 2**63 for v in seen):
        return "bigint"
    if all(_DOUBLE.match(v) for v in seen):
        return "double"
    return "string"


def wider_type(a: str, b: str) -> str:
    """The type that holds values of both (bigint ⊂ double ⊂ string)."""
    return a if _TYPE_RANK[a] >= _TYPE_RANK[b] else b


@dataclass
class CsvSchema:
    columns: list[tuple[str, str]]  # (lower-case name, Hive type)
    has_header: bool
    delimiter: str
    quoted: bool
    sampled_rows: int
    sampled_bytes: int


def _parse(text: str, delimiter: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]


def classify_csv(head: bytes, truncated: bool = False) -> CsvSchema | None:
    """Classify the first bytes of an object as CSV, or None (Glue would say UNKNOWN).

    Like Glue: at least two columns and two rows; a header is recognised when the first row is
    all strings while some data column parses as a non-string (else columns are col0, col1, …)."""
    if not head or b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if truncated and "\n" in text:  # drop the partial last line of a sampled object
        text = text[: text.rfind("\n") + 1]
    for delimiter in CSV_DELIMITERS:
        rows = _parse(text, delimiter)
        if len(rows) < 2 or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        if sum(len(r) == width for r in rows) < 0.9 * len(rows):
            continue
        rows = [r for r in rows if len(r) == width]
        first, data = rows[0], rows[1:]
        data_types = [infer_type(column) for column in zip(*data, strict=True)]
        header = all(infer_type([v]) == "string" and v.strip() for v in first) and any(
            t != "string" for t in data_types
        )
        if header:
            names = _column_names(first)
        else:
            names = [f"col{i}" for i in range(width)]
            data = rows
            data_types = [infer_type(column) for column in zip(*data, strict=True)]
        quoted = '"' in text
        if quoted:  # Glue catalogs quoted CSV with OpenCSVSerde, which reads every column as string
            data_types = ["string"] * width
        return CsvSchema(
            columns=list(zip(names, data_types, strict=True)),
            has_header=header,
            delimiter=delimiter,
            quoted=quoted,
            sampled_rows=len(data),
            sampled_bytes=len(text.encode()),
        )
    return None


def _column_names(header: list[str]) -> list[str]:
    names: list[str] = []
    for i, raw in enumerate(header):
        name = raw.strip().lower() or f"col{i}"
        while name in names:
            name = f"{name}_{i}"
        names.append(name)
    return names


def merge_columns(schemas: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Union of columns in order of first appearance, each with the widest type seen."""
    merged: dict[str, str] = {}
    for columns in schemas:
        for name, typ in columns:
            merged[name] = wider_type(merged[name], typ) if name in merged else typ
    return list(merged.items())


# --------------------------------------------------------------------------------------------------
# Exclusions: Glue's glob dialect, matched against the path relative to the include path
# --------------------------------------------------------------------------------------------------


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """`*` stays within a folder, `**` crosses folders, `?` one character, `[!a-z]`, `{a,b}`."""
    out, i, depth = [], 0, 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif c == "{":
            out.append("(?:")
            depth += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def is_excluded(relative_key: str, patterns: list[re.Pattern[str]]) -> bool:
    """A file is excluded if its path, or the path of a folder above it, matches a pattern."""
    parts = relative_key.split("/")
    candidates = [relative_key]
    for n in range(1, len(parts)):
        folder = "/".join(parts[:n])
        candidates += [folder, folder + "/"]
    return any(p.match(c) for p in patterns for c in candidates)
