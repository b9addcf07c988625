"""TO_CHAR(date or timestamp, 'pattern') with Redshift's patterns (doc "Datetime format strings",
https://docs.aws.amazon.com/redshift/latest/dg/r_FORMAT_strings.html), built piece by piece from DuckDB's strftime.

Month and day names are blank-padded to 9 characters, as in Redshift (and PostgreSQL), unless FM precedes them.
Numeric patterns (TO_CHAR(number, '999D99'), doc "Numeric format strings") are refused: not emulated locally.
"""

from __future__ import annotations

import re

from sqlglot import exp

from flightpipe_local.redshift.errors import EngineError

# Tokens, longest first. Case matters for names (MON/Mon/mon) and AM/PM; other tokens match in any case.
_CASED = ["MONTH", "Month", "month", "MON", "Mon", "mon", "DAY", "Day", "day", "DY", "Dy", "dy",
          "AM", "PM", "am", "pm", "A.M.", "P.M.", "a.m.", "p.m."]
_UNCASED = ["YYYY", "YYY", "YY", "Y", "HH24", "HH12", "HH", "MI", "SS", "MS", "US", "MM", "DDD", "DD", "IW", "WW",
            "ID", "D", "Q", "CC"]
_TOKEN = re.compile("|".join(
    [r'"[^"]*"', "FM"] + [re.escape(t) for t in _CASED] + [f"(?i:{re.escape(t)})" for t in _UNCASED]
))
_NUMERIC_PATTERN = re.compile(r"^(FM)?[90.,DGSLPRMI$ ]+$", re.IGNORECASE)


_PARSE_CODES = {"YYYY": "%Y", "YY": "%y", "MONTH": "%B", "MON": "%b", "MM": "%m", "DDD": "%j", "DD": "%d",
                "HH24": "%H", "HH12": "%I", "HH": "%I", "MI": "%M", "SS": "%S", "MS": "%g", "US": "%f",
                "AM": "%p", "PM": "%p", "DY": "%a", "DAY": "%A"}
_PARSE_TOKEN = re.compile("|".join(sorted(_PARSE_CODES, key=len, reverse=True)), re.IGNORECASE)


def strptime_format(redshift_format: str) -> str:
    """A Redshift date/time format ('DD Mon YYYY', 'YYYY-MM-DD HH24:MI:SS') as a strptime format."""
    return _PARSE_TOKEN.sub(lambda m: _PARSE_CODES[m.group(0).upper()], redshift_format.replace("%", "%%"))


def to_date(node: exp.Anonymous, date: bool) -> exp.Expression:
    """TO_DATE(text, format) and TO_TIMESTAMP(text, format) (doc "TO_DATE function", "TO_TIMESTAMP function")."""
    if len(node.expressions) < 2 or not (isinstance(node.expressions[1], exp.Literal)
                                         and node.expressions[1].is_string):
        raise EngineError(f"{node.name.upper()} needs a value and a format string literal on the local warehouse")
    parsed = exp.Anonymous(this="strptime", expressions=[
        exp.cast(node.expressions[0], "VARCHAR"), exp.Literal.string(strptime_format(node.expressions[1].name))])
    return exp.cast(parsed, "DATE") if date else parsed


def _strftime(ts: exp.Expression, code: str) -> exp.Expression:
    return exp.Anonymous(this="strftime", expressions=[ts, exp.Literal.string(code)])


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _text(value: exp.Expression) -> exp.Expression:
    return exp.cast(value, "VARCHAR")


def _padded(value: exp.Expression, width: int, fill_mode: bool) -> exp.Expression:
    return value if fill_mode else _call("rpad", value, exp.Literal.number(width), exp.Literal.string(" "))


def _piece(token: str, ts: exp.Expression, fill_mode: bool) -> exp.Expression:
    upper = token.upper()
    if token in ("MONTH", "Month", "month", "DAY", "Day", "day"):
        name = _padded(_strftime(ts, "%B" if upper == "MONTH" else "%A"), 9, fill_mode)
        return _call("upper", name) if token.isupper() else _call("lower", name) if token.islower() else name
    if token in ("MON", "Mon", "mon", "DY", "Dy", "dy"):
        name = _strftime(ts, "%b" if upper == "MON" else "%a")
        return _call("upper", name) if token.isupper() else _call("lower", name) if token.islower() else name
    if upper.replace(".", "") in ("AM", "PM"):
        marker = _strftime(ts, "%p")  # AM or PM, whichever applies
        if "." in token:
            marker = _call("concat", _call("left", marker, exp.Literal.number(1)), exp.Literal.string(".M."))
        return _call("lower", marker) if token.islower() else marker
    codes = {"YYYY": "%Y", "YY": "%y", "HH24": "%H", "HH12": "%I", "HH": "%I", "MI": "%M", "SS": "%S",
             "MS": "%g", "US": "%f", "MM": "%m", "DDD": "%j", "DD": "%d", "IW": "%V"}
    if upper in codes:
        return _strftime(ts, codes[upper])
    if upper == "YYY":
        return _call("right", _strftime(ts, "%Y"), exp.Literal.number(3))
    if upper == "Y":
        return _call("right", _strftime(ts, "%Y"), exp.Literal.number(1))
    if upper == "D":  # day of week, Sunday = 1
        return _text(exp.Add(this=_call("dayofweek", ts), expression=exp.Literal.number(1)))
    if upper == "ID":  # ISO day of week, Monday = 1
        return _text(_call("isodow", ts))
    if upper == "Q":
        return _text(_call("quarter", ts))
    if upper == "CC":
        return _call("lpad", _text(_call("century", ts)), exp.Literal.number(2), exp.Literal.string("0"))
    if upper == "WW":  # week of year, week 1 starting on 1 January
        week = exp.Add(this=exp.Div(this=exp.Sub(this=_call("dayofyear", ts), expression=exp.Literal.number(1)),
                                    expression=exp.Literal.number(7)), expression=exp.Literal.number(1))
        return _call("lpad", _text(week), exp.Literal.number(2), exp.Literal.string("0"))
    raise AssertionError(token)


def to_char(node: exp.Anonymous) -> exp.Expression:
    if len(node.expressions) != 2 or not (isinstance(node.expressions[1], exp.Literal)
                                          and node.expressions[1].is_string):
        raise EngineError("TO_CHAR needs a value and a format string literal on the local warehouse")
    value, pattern = node.expressions[0], node.expressions[1].name
    if _NUMERIC_PATTERN.match(pattern) and re.search("[90]", pattern):
        raise EngineError(f"TO_CHAR with the numeric format '{pattern}' is not supported by the local warehouse")
    ts = exp.cast(value, "TIMESTAMP")
    pieces: list[exp.Expression] = []
    position, fill_mode = 0, False
    for match in _TOKEN.finditer(pattern):
        if match.start() > position:
            pieces.append(exp.Literal.string(pattern[position:match.start()]))
        token = match.group(0)
        position = match.end()
        if token == "FM":
            fill_mode = True
            continue
        pieces.append(exp.Literal.string(token[1:-1]) if token.startswith('"') else _piece(token, ts, fill_mode))
        fill_mode = False
    if position < len(pattern):
        pieces.append(exp.Literal.string(pattern[position:]))
    result: exp.Expression = pieces[0] if pieces else exp.Literal.string("")
    for piece in pieces[1:]:
        result = exp.DPipe(this=result, expression=piece, safe=False)
    # NULL in, NULL out (|| of literals alone would not be NULL).
    return exp.Case(ifs=[exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.Null())],
                    default=result)
