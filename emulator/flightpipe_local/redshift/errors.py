"""The error a failing statement raises, and DuckDB's messages cut to what says what and where."""

from __future__ import annotations

import duckdb


class EngineError(Exception):
    """A statement failed. `statement_index` is its 1-based position in the call (batch or multi-statement)."""

    def __init__(self, message: str, statement_index: int = 1):
        super().__init__(message)
        self.statement_index = statement_index


def clean_error(exc: duckdb.Error) -> str:
    """DuckDB's message without its multi-line advice: the lines that say what and where."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    keep = [lines[0]] if lines else [type(exc).__name__]
    for line in lines[1:]:
        if line.startswith(("Original Line", "Error when converting", "file =", "LINE ")):
            keep.append(line)
    return " | ".join(keep)
