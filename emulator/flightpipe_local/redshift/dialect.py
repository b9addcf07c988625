"""sqlglot's Redshift dialect, with the functions whose Redshift meaning the engine builds itself kept as written.

sqlglot maps TO_CHAR, DATE_PART, ADD_MONTHS and TRUNC to portable expressions that lose what Redshift means
(`Mon` in a TO_CHAR pattern, `TRUNC(timestamp)` giving a date, ADD_MONTHS keeping month ends). Parsed as plain
function calls here, they are translated by `functions.py`.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.redshift import Redshift


def _as_written(name: str):
    return lambda args: exp.Anonymous(this=name, expressions=args)


_KEPT = ("TO_CHAR", "DATE_PART", "PGDATE_PART", "ADD_MONTHS", "TRUNC", "TO_DATE", "TO_TIMESTAMP")


class LocalRedshift(Redshift):
    class Parser(Redshift.Parser):
        FUNCTIONS = {**Redshift.Parser.FUNCTIONS, **{name: _as_written(name) for name in _KEPT}}
        FUNCTION_PARSERS = {k: v for k, v in Redshift.Parser.FUNCTION_PARSERS.items() if k != "DATE_PART"}
