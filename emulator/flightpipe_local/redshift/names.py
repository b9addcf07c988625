"""Result column names as Redshift gives them.

Identifiers are folded to lower case, quoted ones too, unless enable_case_sensitive_identifier is on (doc "Names
and identifiers", https://docs.aws.amazon.com/redshift/latest/dg/r_names.html): `AS NumFlights` is `numflights`.
An unaliased expression is named as PostgreSQL names it: a function by its name (`count`, `max`, `listagg`),
DATE_PART by `pgdate_part` and EXTRACT by `date_part` (doc "DATE_PART function", "EXTRACT function" examples),
CASE by `case`, a cast by what it casts, anything else `?column?`.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

_FUNCTION_NAMES = {exp.GroupConcat: "listagg", exp.Extract: "date_part", exp.CurrentUser: "current_user",
                   exp.CurrentVersion: "version", exp.CurrentTimestamp: "getdate", exp.CurrentDate: "date",
                   exp.Coalesce: "coalesce", exp.Length: "len", exp.ApproxDistinct: "count",
                   exp.PercentileCont: "percentile_cont", exp.Median: "median",
                   exp.JSONExtractScalar: "json_extract_path_text"}
_ANONYMOUS_NAMES = {"date_part": "pgdate_part"}
_CAST_NAMES = {"BIGINT": "int8", "INT": "int4", "SMALLINT": "int2", "DOUBLE": "float8", "FLOAT": "float4",
               "VARCHAR": "varchar", "CHAR": "bpchar", "TEXT": "varchar", "BOOLEAN": "bool", "DATE": "date",
               "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamptz", "DECIMAL": "numeric"}


def fold_identifiers(tree: exp.Expression) -> exp.Expression:
    return normalize_identifiers(tree, dialect="redshift")


def default_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Window):
        return default_name(node.this)
    if isinstance(node, exp.WithinGroup):
        return default_name(node.this)
    if isinstance(node, exp.Cast):
        inner = default_name(node.this)
        if inner == "?column?" and isinstance(node.this, exp.Literal):
            return _CAST_NAMES.get(node.to.this.name, node.to.this.name.lower())
        return inner
    if isinstance(node, exp.Case):
        return "case"
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        return _ANONYMOUS_NAMES.get(name, name)
    for kind, name in _FUNCTION_NAMES.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, exp.Func) and not isinstance(node, (exp.Binary, exp.Unary)):
        match = re.match(r"\s*([A-Za-z_]\w*)", node.sql(dialect="redshift"))
        return match.group(1).lower() if match else "?column?"
    return "?column?"


def name_projections(tree: exp.Expression) -> None:
    """Alias each unaliased projection of the outermost SELECT(s) with Redshift's name for it."""
    selects = [tree] if isinstance(tree, exp.Select) else []
    if isinstance(tree, exp.SetOperation):  # a UNION is named by its first SELECT
        left = tree
        while isinstance(left, exp.SetOperation):
            left = left.this
        selects = [left] if isinstance(left, exp.Select) else []
    for select in selects:
        for projection in list(select.expressions):
            if isinstance(projection, (exp.Alias, exp.Column, exp.Star)):
                continue
            projection.replace(exp.alias_(projection.copy(), default_name(projection), quoted=True))
