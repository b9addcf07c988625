"""Redshift SQL → DuckDB SQL, statement by statement, with sqlglot (read with dialect.py's Redshift, written as
DuckDB): identifiers folded and results named as Redshift does (names.py), Redshift's functions (functions.py),
its DDL (ddl.py) and its catalog (catalog.py). Maintenance commands (LOCK, ANALYZE, VACUUM, GRANT) are no-ops.

Parsing costs milliseconds a statement and clients send the same texts again and again (the Glue job's claims, its
load batch, a state machine's ledger query): parsed statements are cached, and a statement's parameters are bound
into a copy of the cached tree.
"""

from __future__ import annotations

import functools
import logging
import re

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.tokens import TokenType

from flightpipe_local.redshift import ddl, functions
from flightpipe_local.redshift.catalog import CATALOG, catalog_table
from flightpipe_local.redshift.dialect import LocalRedshift
from flightpipe_local.redshift.errors import EngineError
from flightpipe_local.redshift.names import fold_identifiers, name_projections

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its fallback warnings are not the user's business
_NO_OPS = {"LOCK", "VACUUM", "ANALYZE", "GRANT", "REVOKE"}  # meaningful only on a real cluster
_REFUSED = {  # statements Redshift runs and the local warehouse cannot: refused, never half-done
    "CREATE EXTERNAL": "Redshift Spectrum (external schemas and tables) is not available on the local warehouse",
    "CREATE MATERIALIZED": "materialized views are not supported by the local warehouse",
    "CREATE PROCEDURE": "stored procedures are not supported by the local warehouse",
    "CALL": "stored procedures are not supported by the local warehouse",
    "CREATE LIBRARY": "CREATE LIBRARY is not supported by the local warehouse",
    "EXPLAIN": "EXPLAIN is not supported by the local warehouse (its plans would be DuckDB's, not Redshift's)",
}
# version() as Redshift answers it (doc "VERSION function"); the build number names the local warehouse.
VERSION = ("PostgreSQL 8.0.2 on i686-pc-linux-gnu, compiled by GCC gcc (GCC) 3.4.2 20041017 (Red Hat 3.4.2-6.fc3), "
           "Redshift 1.0.0 (flightpipe local)")
_DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge)


def top_level_statements(sql: str) -> list[str]:
    """The statements of one SQL text as the warehouse reads it: split on top-level semicolons (the tokenizer
    knows about quotes and comments); drop empty parts. A client's text may hold any SQL, so this is not the
    project's splitter for its own files (flightpipe_job.sql.split_statements), which relies on their layout."""
    return list(_top_level_statements(sql))


@functools.lru_cache(maxsize=1024)
def _top_level_statements(sql: str) -> tuple[str, ...]:
    parts, start = [], 0
    for token in sqlglot.Dialect.get_or_raise("redshift").tokenize(sql):
        if token.token_type == TokenType.SEMICOLON:
            parts.append(sql[start : token.start])
            start = token.end + 1
    parts.append(sql[start:])
    return tuple(part.strip() for part in parts if part.strip() and _has_code(part))


def _has_code(text: str) -> bool:
    return bool(sqlglot.Dialect.get_or_raise("redshift").tokenize(text))


def sql_str(value: str) -> str:
    """A DuckDB string literal (standard SQL quoting: backslashes are not escapes in DuckDB)."""
    return "'" + value.replace("'", "''") + "'"


def table_sql(name: exp.Table | str) -> str:
    table = exp.to_table(name, dialect="redshift") if isinstance(name, str) else name
    return table.sql(dialect="duckdb", identify=True)


# ---------------------------------------------------------------- translation of ordinary statements


def _bind_parameters(tree: exp.Expression, params: dict[str, str]) -> exp.Expression:
    """Replace `:name` placeholders with string literals, i.e. Redshift's untyped literals (the engine
    casts them from context). The literal is built as an AST node, so a value can never become SQL."""

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name:
            if node.name not in params:
                raise EngineError(f"no value given for parameter :{node.name} (Parameters has {sorted(params)})")
            return exp.Literal.string(params[node.name])
        return node

    return tree.transform(substitute)


def _rewrite_create_like(create: exp.Create) -> exp.Expression | None:
    """`CREATE [TEMP] TABLE x (LIKE y)` -> `CREATE [TEMP] TABLE x AS SELECT * FROM y LIMIT 0` (same columns)."""
    schema = create.this
    if not (isinstance(schema, exp.Schema) and schema.expressions
            and isinstance(schema.expressions[0], exp.LikeProperty)):
        return None
    source = schema.expressions[0].this
    query = exp.select("*").from_(source).limit(0)
    return exp.Create(this=schema.this, kind="TABLE", exists=create.args.get("exists"),
                      properties=create.args.get("properties"), expression=query)


def _listagg_distinct(tree: exp.Expression) -> None:
    """sqlglot reads `LISTAGG(DISTINCT x, sep)` as DISTINCT over (x, sep); Redshift means DISTINCT x."""
    for agg in tree.find_all(exp.GroupConcat):
        distinct = agg.this
        if isinstance(distinct, exp.Distinct) and len(distinct.expressions) == 2 and not agg.args.get("separator"):
            agg.set("this", exp.Distinct(expressions=[distinct.expressions[0]]))
            agg.set("separator", distinct.expressions[1])


def _utc_timestamps(tree: exp.Expression) -> exp.Expression:
    """GETDATE()/SYSDATE/CURRENT_TIMESTAMP: Redshift sessions run in UTC and return a plain timestamp."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentTimestamp) and not isinstance(node.parent, exp.AtTimeZone):
            return exp.AtTimeZone(this=exp.CurrentTimestamp(), zone=exp.Literal.string("UTC"))
        return node

    return tree.transform(rewrite)




def _system_functions(tree: exp.Expression) -> exp.Expression:
    """current_user and version() as a Redshift session answers them; catalog names to the catalog views."""

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentUser):
            session = exp.Table(this=exp.to_identifier("rs_session"), db=exp.to_identifier("main"),
                                catalog=exp.to_identifier(CATALOG))
            return exp.Subquery(this=exp.select("user_name").from_(session))
        if isinstance(node, exp.CurrentVersion):
            return exp.Literal.string(VERSION)
        if isinstance(node, exp.Table) and not node.args.get("catalog"):
            return catalog_table(node) or node
        return node

    return tree.transform(rewrite, copy=False)


def translate(statement: str, params: dict[str, str] | None = None) -> list[str]:
    """One Redshift statement -> the DuckDB statements that do the same (empty list: a no-op)."""
    return list(_translate(statement, params)[0])


def _translate(statement: str, params: dict[str, str] | None,
               types: functions.TypesFor | None = None) -> tuple[list[str], type[exp.Expression] | None]:
    """`translate`, plus the kind of the last statement (to know whether it returns rows or a count).
    `types` tells column types for the few functions whose Redshift result depends on them."""
    tree = parsed(statement)
    if tree is None:
        return [], None
    typed = functions.needs_types(tree)
    if not params and not tree.find(exp.Placeholder) and not typed:
        return _translated(statement)
    bound = _bind_parameters(tree.copy(), params or {})
    return _to_duckdb(bound, types(bound) if (typed and types) else functions.unknown_types)


@functools.lru_cache(maxsize=1024)
def _translated(statement: str) -> tuple[list[str], type[exp.Expression]]:
    """The translation of a statement without parameters, which is the same every time."""
    return _to_duckdb(parsed(statement).copy(), functions.unknown_types)


@functools.lru_cache(maxsize=1024)
def parsed(statement: str) -> exp.Expression | None:
    """The Redshift syntax tree of a statement (None: a no-op). Cached: callers copy it before changing it."""
    tokens = LocalRedshift().tokenize(statement)  # comments are not tokens
    words = " ".join(t.text.upper() for t in tokens[:2])
    first_word = words.split(" ")[0] if words else ""
    if first_word in _NO_OPS:
        return None
    for start, reason in _REFUSED.items():
        if words.startswith(start):
            raise EngineError(reason)
    statement = _quote_notnull_columns(statement, tokens)
    markers = None
    if first_word == "CREATE":
        statement, markers = ddl.prepare_create(statement)
    try:
        tree = sqlglot.parse_one(statement, read=LocalRedshift)
    except sqlglot.ParseError as exc:
        raise EngineError(_syntax_error(exc, statement)) from None
    if isinstance(tree, (exp.Transaction, exp.Commit)):
        return None  # the whole call already is one transaction
    if isinstance(tree, exp.Rollback):
        raise EngineError("ROLLBACK is not supported inside a Data API call (a failed call rolls back itself)")
    if isinstance(tree, exp.Analyze) or (isinstance(tree, exp.Command) and tree.name.upper() in _NO_OPS):
        return None
    if isinstance(tree, exp.Command):
        raise EngineError(f"unsupported statement: {statement.split()[0].upper()}")
    tree = fold_identifiers(tree)
    if markers is not None:
        tree.meta["create_markers"] = markers
    return tree


def _quote_notnull_columns(statement: str, tokens: list) -> str:
    """`SELECT notnull FROM pg_table_def`: a column named notnull, not the NOTNULL operator sqlglot reads."""
    for previous, token in reversed(list(zip(tokens, tokens[1:], strict=False))):
        if token.text.upper() == "NOTNULL" and previous.token_type in (TokenType.SELECT, TokenType.COMMA,
                                                                       TokenType.DOT):
            statement = statement[: token.start] + '"notnull"' + statement[token.end + 1:]
    return statement


def _syntax_error(exc: sqlglot.ParseError, statement: str) -> str:
    """Redshift's words: syntax error at or near "token" (DuckDB's parser is PostgreSQL's, as Redshift's is)."""
    try:
        duckdb.extract_statements(statement)
    except duckdb.ParserException as parser_error:
        match = re.search(r'syntax error at or near "[^"]*"|syntax error at end of input', str(parser_error))
        if match:
            return match.group(0)
    except duckdb.Error:
        pass
    details = exc.errors[0] if exc.errors else {}
    near = (details.get("highlight") or "").strip() or (statement.split() or [""])[0]
    return f'syntax error at or near "{near}"'


def _to_duckdb(tree: exp.Expression, type_of: functions.TypeOf) -> tuple[list[str], type[exp.Expression]]:
    """DuckDB SQL for a Redshift tree whose parameters are bound (the tree is changed in place)."""
    markers = tree.meta.get("create_markers") or {"columns": {}, "interleaved": False}
    name_projections(tree)
    _listagg_distinct(tree)
    tree = _utc_timestamps(tree)
    tree = _system_functions(tree)
    tree = functions.rewrite(tree, type_of)
    before: list[exp.Expression] = []
    after: list[exp.Expression] = []
    if isinstance(tree, exp.Create) and tree.kind == "TABLE":
        tree = _rewrite_create_like(tree) or tree
        before, after = ddl.translate_create_table(tree, markers)
    elif isinstance(tree, exp.Create) and tree.kind == "VIEW":
        ddl.check_view(tree)
    return [e.sql(dialect="duckdb") for e in [*before, tree, *after]], type(tree)
