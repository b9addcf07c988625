"""Redshift's functions and expression rules, built from DuckDB's.

Integer division itself is DuckDB's `integer_division` setting (set on every session, see database.py); the
rewrites here cover what a setting cannot: AVG of integers (BIGINT, truncated: doc "AVG function"), MEDIAN and
PERCENTILE_CONT of integers (DECIMAL: doc "MEDIAN function"), DATE_PART (DOUBLE PRECISION: doc "DATE_PART
function"), TO_CHAR patterns (doc "Datetime format strings"),
TRUNC(timestamp) (a DATE: doc "TRUNC function"), ADD_MONTHS at month ends (doc "ADD_MONTHS function"),
CONCAT with NULL (NULL: doc "CONCAT function"), SIMILAR TO (doc "SIMILAR TO"), RATIO_TO_REPORT (doc
"RATIO_TO_REPORT window function"), and the rule that aggregate window functions with ORDER BY need a frame
(doc "Window functions syntax summary").
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from flightpipe_local.redshift.errors import EngineError
from flightpipe_local.redshift.to_char import to_char, to_date

TypeOf = Callable[[exp.Column], "str | None"]  # a column's DuckDB type, when the engine knows it
TypesFor = Callable[[exp.Expression], TypeOf]  # the column types of one statement's tables


def unknown_types(column: exp.Column) -> None:
    return None

_INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_TIMESTAMP_FUNCS = (exp.CurrentTimestamp, exp.AtTimeZone, exp.StrToTime, exp.TsOrDsAdd, exp.DateAdd, exp.TimestampAdd)
_AGGREGATES_NEEDING_FRAME = (exp.Sum, exp.Avg, exp.Count, exp.Min, exp.Max, exp.Stddev, exp.StddevSamp,
                             exp.StddevPop, exp.Variance, exp.VariancePop)


def needs_types(tree: exp.Expression) -> bool:
    """Whether translating `tree` depends on the types of its columns (then it is not cached)."""
    for node in tree.find_all(exp.Anonymous, exp.Avg, exp.Median, exp.PercentileCont, exp.Sub):
        if not isinstance(node, exp.Anonymous) or node.name.upper() == "TRUNC":
            return True
    return False


def rewrite(tree: exp.Expression, type_of: TypeOf) -> exp.Expression:
    """`tree` with Redshift's functions spelled in DuckDB (changed in place where possible)."""
    for window in tree.find_all(exp.Window):
        _check_frame(window)

    def visit(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous):
            builder = _ANONYMOUS.get(node.name.upper())
            return builder(node, type_of) if builder else node
        if isinstance(node, exp.Window) and isinstance(node.this, exp.Anonymous) \
                and node.this.name.upper() == "RATIO_TO_REPORT":
            return _ratio_to_report(node)
        if isinstance(node, exp.Window) and isinstance(node.this, exp.Avg):
            return _window_avg(node, type_of)
        if isinstance(node, exp.Avg) and not isinstance(node.parent, exp.Window):
            return _avg(node, type_of)
        if isinstance(node, exp.Window) and isinstance(node.this, exp.Median):
            return _inverse_distribution(node, node.this.this, type_of)
        if isinstance(node, (exp.Median, exp.PercentileCont)) and not isinstance(node.parent, exp.Window):
            return _inverse_distribution(node, node.this, type_of)
        if isinstance(node, (exp.Length, exp.StrPosition)) and not isinstance(node.parent, exp.Cast):
            return exp.cast(node, "INTEGER")  # doc "LEN function", "CHARINDEX function": INTEGER
        if isinstance(node, exp.RegexpReplace) and node.args.get("single_replace"):
            node.set("single_replace", False)  # doc "REGEXP_REPLACE function": every occurrence
            node.set("modifiers", exp.Literal.string("g"))
            return node
        if isinstance(node, exp.Sub) and _kind(node.this, type_of) == "DATE" \
                and _kind(node.expression, type_of) == "DATE":
            return exp.cast(exp.paren(node, copy=False), "INTEGER")  # doc "Datetime types": days, an INTEGER
        if isinstance(node, exp.Extract):
            return exp.cast(node, "INTEGER")  # doc "EXTRACT function": INTEGER for date and timestamp parts
        if isinstance(node, exp.Concat):
            return _concat(node)
        if isinstance(node, exp.SimilarTo):
            return _similar_to(node)
        if isinstance(node, exp.Cast) and node.to.this in exp.DataType.TEXT_TYPES and node.to.expressions:
            return _cast_to_short_string(node)
        return node

    return tree.transform(visit, copy=False)


# ---------------------------------------------------------------- types of arguments


def _kind(node: exp.Expression, type_of: TypeOf) -> str | None:
    """INTEGER/BIGINT/DECIMAL/DOUBLE/DATE/TIMESTAMP/VARCHAR for an argument, when it can be told."""
    if isinstance(node, exp.Literal):
        return "VARCHAR" if node.is_string else ("DECIMAL" if "." in node.name else "INTEGER")
    if isinstance(node, exp.Cast):
        name = node.to.this.name
        return {"INT": "INTEGER", "TINYINT": "SMALLINT", "FLOAT": "DOUBLE", "TEXT": "VARCHAR"}.get(name, name)
    if isinstance(node, _TIMESTAMP_FUNCS):
        return "TIMESTAMP"
    if isinstance(node, exp.Anonymous) and node.name.upper() == "ADD_MONTHS":
        return "TIMESTAMP"
    if isinstance(node, exp.Paren):
        return _kind(node.this, type_of)
    if isinstance(node, exp.Column):
        duck = (type_of(node) or "").upper()
        if duck.startswith("DECIMAL"):
            return "DECIMAL"
        for name in ("BIGINT", "HUGEINT", "INTEGER", "SMALLINT", "TINYINT", "DOUBLE", "FLOAT", "DATE",
                     "TIMESTAMP", "VARCHAR"):
            if duck.startswith(name):
                return {"HUGEINT": "BIGINT", "TINYINT": "SMALLINT", "FLOAT": "DOUBLE"}.get(name, name)
    return None


def _decimal_scale(node: exp.Expression, type_of: TypeOf) -> int:
    if isinstance(node, exp.Column):
        match = re.search(r"DECIMAL\(\d+,\s*(\d+)\)", (type_of(node) or "").upper())
        if match:
            return int(match.group(1))
    if isinstance(node, exp.Cast) and len(node.to.expressions) == 2:
        return int(node.to.expressions[1].name)
    return 0


# ---------------------------------------------------------------- aggregates


def _avg(node: exp.Avg, type_of: TypeOf) -> exp.Expression:
    """AVG of integers is a BIGINT, truncated (doc "AVG function"); of DEC(p,s) a DEC(38,s)."""
    arg = node.this
    distinct = isinstance(arg, exp.Distinct)
    value = arg.expressions[0] if distinct else arg
    kind = _kind(value, type_of)
    if kind == "DECIMAL":
        return exp.cast(exp.Avg(this=arg.copy()), f"DECIMAL(38,{_decimal_scale(value, type_of)})")
    if kind in ("DOUBLE", "REAL"):
        return node
    # Integers, or unknown: SUM/COUNT under integer_division is the truncated BIGINT for integers and the plain
    # mean for floating point, so the result follows the argument's type without knowing it.
    total = exp.Sum(this=arg.copy())
    count = exp.Count(this=arg.copy())
    quotient = exp.Div(this=total, expression=count)
    return exp.cast(quotient, "BIGINT") if kind in _INTEGER_TYPES else exp.paren(quotient, copy=False)


def _window_avg(window: exp.Window, type_of: TypeOf) -> exp.Expression:
    kind = _kind(window.this.this, type_of)
    if kind == "DECIMAL":
        return exp.cast(window, f"DECIMAL(38,{_decimal_scale(window.this.this, type_of)})")
    if kind in ("DOUBLE", "REAL"):
        return window
    total, count = window.copy(), window.copy()
    total.set("this", exp.Sum(this=window.this.this.copy()))
    count.set("this", exp.Count(this=window.this.this.copy()))
    quotient = exp.Div(this=total, expression=count)
    return exp.cast(quotient, "BIGINT") if kind in _INTEGER_TYPES else exp.paren(quotient, copy=False)


def _inverse_distribution(node: exp.Expression, value: exp.Expression, type_of: TypeOf) -> exp.Expression:
    """MEDIAN/PERCENTILE_CONT of integers and decimals answer DECIMAL (doc "MEDIAN function")."""
    if isinstance(node, exp.PercentileCont) and isinstance(node.parent, exp.WithinGroup):
        order = node.parent.expression
        value = order.expressions[0].this if isinstance(order, exp.Order) else value
    kind = _kind(value, type_of)
    target = node.parent if isinstance(node.parent, exp.WithinGroup) else node
    if kind in _INTEGER_TYPES:
        if target is not node:
            target.replace(exp.cast(target.copy(), "DECIMAL(38,4)"))
            return node
        return exp.cast(node, "DECIMAL(38,1)")  # a median of integers is a whole or half number
    return node


def _check_frame(window: exp.Window) -> None:
    if isinstance(window.this, _AGGREGATES_NEEDING_FRAME) and window.args.get("order") \
            and not window.args.get("spec"):
        raise EngineError("Aggregate window functions with an ORDER BY clause require a frame clause")


def _ratio_to_report(window: exp.Window) -> exp.Expression:
    """RATIO_TO_REPORT(x) OVER (PARTITION BY p): x / SUM(x) over the partition, as DOUBLE PRECISION."""
    if window.args.get("order"):
        raise EngineError("RATIO_TO_REPORT does not support an ORDER BY clause in its window")
    value = window.this.expressions[0]
    total = window.copy()
    total.set("this", exp.Sum(this=value.copy()))
    return exp.Div(this=exp.cast(value.copy(), "DOUBLE"), expression=total)


# ---------------------------------------------------------------- scalar functions


def _date_part(node: exp.Anonymous, type_of: TypeOf) -> exp.Expression:
    """DATE_PART(part, value) -> DOUBLE PRECISION (doc "DATE_PART function")."""
    if len(node.expressions) != 2:
        raise EngineError("function date_part needs two arguments: a date part and a date or timestamp")
    part, value = node.expressions
    name = part.name.lower()
    duck = _DATE_PARTS.get(name, name)
    return exp.cast(exp.Anonymous(this="date_part", expressions=[exp.Literal.string(duck), value]), "DOUBLE")


_DATE_PARTS = {  # Redshift's abbreviations (doc "Date parts for date or timestamp functions")
    "y": "year", "yr": "year", "yrs": "year", "years": "year", "mon": "month", "mons": "month",
    "months": "month", "d": "day", "days": "day", "h": "hour", "hr": "hour", "hrs": "hour", "hours": "hour",
    "m": "minute", "min": "minute", "mins": "minute", "minutes": "minute", "s": "second", "sec": "second",
    "secs": "second", "seconds": "second", "w": "week", "weeks": "week", "qtr": "quarter", "qtrs": "quarter",
    "quarters": "quarter", "dw": "dow", "dayofweek": "dow", "dy": "doy", "dayofyear": "doy",
    "ms": "millisecond", "msec": "millisecond", "us": "microsecond", "usec": "microsecond",
    "c": "century", "cent": "century", "dec": "decade", "decades": "decade", "mil": "millennium",
}


def _trunc(node: exp.Anonymous, type_of: TypeOf) -> exp.Expression:
    """TRUNC(timestamp) is the date (doc "TRUNC function"); TRUNC(number [, places]) truncates the number."""
    args = node.expressions
    if len(args) == 1 and _kind(args[0], type_of) in ("TIMESTAMP", "DATE", "VARCHAR"):
        return exp.cast(exp.cast(args[0], "TIMESTAMP"), "DATE")
    return exp.Anonymous(this="trunc", expressions=args)


def _add_months(node: exp.Anonymous, type_of: TypeOf) -> exp.Expression:
    """The last day of a month stays the last day of the month (doc "ADD_MONTHS function"); a TIMESTAMP."""
    if len(node.expressions) != 2:
        raise EngineError("function add_months needs two arguments: a date or timestamp and a number of months")
    value, months = node.expressions
    ts = exp.cast(value, "TIMESTAMP")
    moved = exp.Add(this=ts, expression=exp.Anonymous(this="to_months", expressions=[exp.cast(months, "INTEGER")]))
    sql = (f"CASE WHEN CAST({ts.sql('duckdb')} AS DATE) = last_day({ts.sql('duckdb')}) "
           f"THEN CAST(last_day({moved.sql('duckdb')}) AS TIMESTAMP) + ({ts.sql('duckdb')} - "
           f"date_trunc('day', {ts.sql('duckdb')})) ELSE {moved.sql('duckdb')} END")
    return exp.maybe_parse(sql, dialect="duckdb")


def _concat(node: exp.Concat) -> exp.Expression:
    """CONCAT is NULL when either argument is (doc "CONCAT function"), like ||."""
    args = [exp.cast(arg, "VARCHAR") for arg in node.expressions]
    result = args[0]
    for arg in args[1:]:
        result = exp.DPipe(this=result, expression=arg, safe=False)
    return result


def _similar_to(node: exp.SimilarTo) -> exp.Expression:
    """SIMILAR TO matches the whole string; % and _ are wildcards, . is a plain character (doc "SIMILAR TO")."""
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise EngineError("SIMILAR TO with a pattern that is not a string literal is not supported locally")
    regex = []
    for char in pattern.name:
        regex.append({"%": ".*", "_": ".", ".": r"\.", "^": r"\^", "$": r"\$", "\\": "\\\\"}.get(char, char))
    return exp.Anonymous(this="regexp_full_match", expressions=[node.this, exp.Literal.string("".join(regex))])


def _cast_to_short_string(node: exp.Cast) -> exp.Expression:
    """An explicit cast to VARCHAR(n) truncates to n characters (doc "CAST function")."""
    length = node.to.expressions[0]
    plain = exp.Cast(this=node.this, to=exp.DataType.build("VARCHAR"))
    if length.name.upper() == "MAX":
        return plain
    return exp.Anonymous(this="left", expressions=[plain, exp.Literal.number(int(length.name))])


def _json_array_element(node: exp.Anonymous) -> exp.Expression:
    """JSON_EXTRACT_ARRAY_ELEMENT_TEXT(json, position): the element at a 0-based position, as text."""
    if len(node.expressions) < 2:
        raise EngineError("function json_extract_array_element_text needs a JSON array and a position")
    json, position = node.expressions[:2]
    path = exp.DPipe(this=exp.DPipe(this=exp.Literal.string("$["), expression=exp.cast(position, "VARCHAR")),
                     expression=exp.Literal.string("]"))
    return exp.Anonymous(this="json_extract_string", expressions=[json, path])


def _to_char(node: exp.Anonymous, type_of: TypeOf) -> exp.Expression:
    return to_char(node)


_ANONYMOUS = {"DATE_PART": _date_part, "PGDATE_PART": _date_part, "TRUNC": _trunc, "ADD_MONTHS": _add_months,
              "OCTET_LENGTH": lambda node, _: exp.cast(exp.Anonymous(this="strlen", expressions=node.expressions),
                                                       "INTEGER"),
              "JSON_ARRAY_LENGTH": lambda node, _: exp.cast(
                  exp.Anonymous(this="json_array_length", expressions=node.expressions), "INTEGER"),
              "IS_VALID_JSON": lambda node, _: exp.Anonymous(this="json_valid", expressions=node.expressions),
              "JSON_EXTRACT_ARRAY_ELEMENT_TEXT": lambda node, _: _json_array_element(node),
              "TO_CHAR": _to_char, "TO_DATE": lambda node, _: to_date(node, date=True),
              "TO_TIMESTAMP": lambda node, _: to_date(node, date=False)}
