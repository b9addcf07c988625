"""CREATE TABLE and CREATE VIEW as Redshift reads them, for DuckDB.

- Distribution and sort attributes (DISTSTYLE, DISTKEY, [COMPOUND|INTERLEAVED] SORTKEY, ENCODE, BACKUP) change
  nothing locally; they are kept, with each column's declared type, in the table's comment so the catalog
  (svv_table_info, pg_table_def) reports them (doc "CREATE TABLE", https://docs.aws.amazon.com/redshift/latest/dg/r_CREATE_TABLE_NEW.html).
- VARCHAR(n)/CHAR(n) lengths are enforced in bytes, as Redshift does (doc "Character types": lengths are in
  bytes; VARCHAR without a length is VARCHAR(256), CHAR is CHAR(1), MAX is 65535), by a CHECK constraint whose
  failure errors.py words as Redshift does.
- PRIMARY KEY, UNIQUE and FOREIGN KEY are informational only (doc "Defining table constraints"): not enforced.
- IDENTITY(seed, step) is a sequence default; explicit values into it are refused (database.py).
- NUMERIC/DECIMAL without precision is NUMERIC(18,0) (doc "Numeric types").
"""

from __future__ import annotations

import json
import re

import sqlglot
from sqlglot import exp

from flightpipe_local.redshift.errors import EngineError

_KEY_ATTRIBUTE = re.compile(r"\b(DISTKEY|SORTKEY)\b(?!\s*\()", re.IGNORECASE)
_INTERLEAVED = re.compile(r"\bINTERLEAVED\s+SORTKEY\b", re.IGNORECASE)
_STRING_TYPES = {exp.DataType.Type.VARCHAR: "character varying", exp.DataType.Type.NVARCHAR: "character varying",
                 exp.DataType.Type.TEXT: "character varying", exp.DataType.Type.CHAR: "character",
                 exp.DataType.Type.NCHAR: "character", exp.DataType.Type.BPCHAR: "character"}
_INFORMATIONAL = (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint)


def prepare_create(statement: str) -> tuple[str, dict]:
    """Text-level rewrites sqlglot cannot parse: column-level `distkey`/`sortkey` markers and INTERLEAVED.
    Returns the text to parse and what was taken out of it (per column, per table)."""
    markers: dict = {"columns": {}, "interleaved": bool(_INTERLEAVED.search(statement))}
    statement = _INTERLEAVED.sub("COMPOUND SORTKEY", statement)

    def take(match: re.Match) -> str:
        depth, start = 0, match.start()
        while start > 0:  # back to the comma or parenthesis that starts this column's definition
            char = statement[start - 1]
            depth += {")": 1, "(": -1}.get(char, 0)
            if depth < 0 or (depth == 0 and char == ","):
                break
            start -= 1
        words = statement[start:match.start()].split()
        if words:
            markers["columns"].setdefault(words[0].strip('"').lower(), []).append(match.group(1).lower())
        return ""

    return _KEY_ATTRIBUTE.sub(take, statement), markers


def redshift_type(data_type: exp.DataType) -> str:
    """The type as Redshift's catalog spells it: character varying(100), numeric(18,0), bigint …"""
    this = data_type.this
    params = [p.name for p in data_type.expressions]
    if this in _STRING_TYPES:
        return f"{_STRING_TYPES[this]}({_string_length(data_type)})"
    if this == exp.DataType.Type.DECIMAL:
        precision, scale = (params + ["18", "0"])[:2] if params else ("18", "0")
        return f"numeric({precision},{scale})"
    names = {"INT": "integer", "BIGINT": "bigint", "SMALLINT": "smallint", "DOUBLE": "double precision",
             "FLOAT": "real", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp without time zone",
             "TIMESTAMPTZ": "timestamp with time zone", "TIME": "time without time zone",
             "TIMETZ": "time with time zone", "VARBINARY": "varbyte", "SUPER": "super"}
    return names.get(this.name, this.name.lower())


def _string_length(data_type: exp.DataType) -> int:
    if not data_type.expressions:
        return 1 if data_type.this in (exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR) else 256
    length = data_type.expressions[0].name
    return 65535 if length.upper() == "MAX" else int(length)


def translate_create_table(create: exp.Create, markers: dict) -> list[exp.Expression]:
    """Rewrite `create` in place; the statements to run before it (sequences) and after it (comments)."""
    schema = create.this if isinstance(create.this, exp.Schema) else None
    table = schema.this if schema else create.this
    table_meta = _table_attributes(create, markers)
    before: list[exp.Expression] = []
    after: list[exp.Expression] = []
    if schema is None:  # CREATE TABLE … AS SELECT
        return [], [_comment("TABLE", table, table_meta)]
    primary = {i.name.lower() for c in schema.expressions if isinstance(c, exp.PrimaryKey) for i in c.expressions}
    schema.set("expressions", [c for c in schema.expressions
                               if not isinstance(c, (exp.PrimaryKey, exp.ForeignKey, exp.UniqueColumnConstraint))])
    for column in schema.expressions:
        if not isinstance(column, exp.ColumnDef):
            continue
        name = column.name.lower()
        meta = {"type": redshift_type(column.kind) if column.kind else None, "encode": None,
                "distkey": "distkey" in markers["columns"].get(name, []),
                "sortkey": "sortkey" in markers["columns"].get(name, [])}
        kept = []
        for constraint in column.args.get("constraints") or []:
            kind = constraint.args.get("kind")
            if isinstance(kind, exp.EncodeColumnConstraint):
                meta["encode"] = kind.this.name.lower()
            elif isinstance(kind, _INFORMATIONAL):
                primary.add(name) if isinstance(kind, exp.PrimaryKeyColumnConstraint) else None
            elif isinstance(kind, (exp.Reference,)):
                continue
            elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
                sequence, default = _identity(table, column, kind)
                before.append(sequence)
                meta["identity"] = True
                kept.append(exp.ColumnConstraint(kind=exp.DefaultColumnConstraint(this=default)))
            else:
                kept.append(constraint)
        if name in primary and not any(isinstance(c.args.get("kind"), exp.NotNullColumnConstraint) for c in kept):
            kept.append(exp.ColumnConstraint(kind=exp.NotNullColumnConstraint()))  # a key column is NOT NULL
        if column.kind is not None and column.kind.this in _STRING_TYPES:
            length = _string_length(column.kind)
            check = sqlglot.parse_one(f"strlen({exp.to_identifier(name).sql('duckdb', identify=True)}) <= {length}",
                                      read="duckdb")
            kept.append(exp.ColumnConstraint(kind=exp.CheckColumnConstraint(this=check)))
            column.set("kind", exp.DataType.build("VARCHAR"))
        elif column.kind is not None and column.kind.this == exp.DataType.Type.DECIMAL and not column.kind.expressions:
            column.set("kind", exp.DataType.build("DECIMAL(18,0)"))
        column.set("constraints", kept)
        table_meta["columns"][name] = {k: v for k, v in meta.items() if v}
    after.append(_comment("TABLE", table, table_meta))  # one comment for the table and its columns
    return before, after


def _table_attributes(create: exp.Create, markers: dict) -> dict:
    meta = {"diststyle": None, "distkey": None, "sortkey": [], "interleaved": markers["interleaved"], "columns": {}}
    props = create.args.get("properties")
    keep = []
    for prop in props.expressions if props else []:
        if isinstance(prop, exp.DistStyleProperty):
            meta["diststyle"] = prop.this.name.upper()
        elif isinstance(prop, exp.DistKeyProperty):
            meta["distkey"] = prop.this.name.lower()
            meta["diststyle"] = "KEY"
        elif isinstance(prop, exp.SortKeyProperty):
            meta["sortkey"] = [c.name.lower() for c in prop.this.expressions] if isinstance(prop.this, exp.Tuple) \
                else [c.name.lower() for c in ([prop.this] if not isinstance(prop.this, list) else prop.this)]
        elif isinstance(prop, exp.BackupProperty):
            continue
        else:
            keep.append(prop)
    create.set("properties", exp.Properties(expressions=keep) if keep else None)
    for column, kinds in markers["columns"].items():
        if "distkey" in kinds:
            meta["distkey"], meta["diststyle"] = column, "KEY"
        if "sortkey" in kinds and column not in meta["sortkey"]:
            meta["sortkey"].append(column)
    return meta


def _identity(table: exp.Table, column: exp.ColumnDef, kind) -> tuple[exp.Expression, exp.Expression]:
    seq = exp.Table(this=exp.to_identifier(f"{table.name}_{column.name}_seq"), db=table.args.get("db"))
    start = kind.args.get("start") or exp.Literal.number(1)
    step = kind.args.get("increment") or exp.Literal.number(1)
    sequence = sqlglot.parse_one(
        f"CREATE SEQUENCE IF NOT EXISTS {seq.sql('duckdb', identify=True)} START {start.sql()} "
        f"INCREMENT {step.sql()}", read="duckdb")
    default = exp.Anonymous(this="nextval", expressions=[exp.Literal.string(seq.sql("duckdb", identify=True))])
    return sequence, default


def _comment(kind: str, table: exp.Table, meta: dict) -> exp.Expression:
    target = table.sql("duckdb", identify=True)
    text = json.dumps(meta, separators=(",", ":")).replace("'", "''")
    return sqlglot.parse_one(f"COMMENT ON {kind} {target} IS '{text}'", read="duckdb")


def check_view(create: exp.Create) -> None:
    """A late-binding view names every relation with its schema (doc "CREATE VIEW": WITH NO SCHEMA BINDING)."""
    if not create.args.get("no_schema_binding"):
        return
    ctes = {cte.alias_or_name.lower() for cte in create.find_all(exp.CTE)}
    for table in create.expression.find_all(exp.Table):
        if not table.args.get("db") and table.name.lower() not in ctes:
            raise EngineError(f'relation "{table.name}" must be qualified with a schema name in a view created '
                              "WITH NO SCHEMA BINDING")
    create.set("no_schema_binding", False)


def identity_violation(insert: exp.Insert, identity_columns: list[str]) -> str | None:
    """Redshift refuses explicit values into an IDENTITY column (doc "CREATE TABLE": IDENTITY)."""
    if not identity_columns:
        return None
    target = insert.this
    listed = [c.name.lower() for c in target.expressions] if isinstance(target, exp.Schema) else None
    for column in identity_columns:
        if listed is None or column in listed:
            values = insert.expression
            if listed is None and isinstance(values, exp.Values) and all(
                    isinstance(row.expressions[0] if row.expressions else None, exp.Var)
                    for row in values.expressions):
                continue  # VALUES (DEFAULT, …)
            return "cannot set an identity column to a value"
    return None
