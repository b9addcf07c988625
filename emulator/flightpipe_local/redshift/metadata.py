"""The Data API's metadata actions, answered from the database's own catalog.

ListSchemas, ListTables and DescribeTable read `information_schema` through `Database.execute` (in a
session of their own, the catalog reader), the same path a user's `SELECT` takes, and shape the rows as
the Data API Reference describes (ListSchemas, ListTables: TableMember; DescribeTable: ColumnMetadata).
Patterns are SQL LIKE patterns: "%" matches any substring of 0 or more characters and "_" any one character.

Sizes in DescribeTable follow the JDBC metadata the Data API answers with (the Redshift Management Guide's
"Describe a table" example reports `length` and `precision` as the column size): the declared length of a
character column, the precision and scale of a numeric one, and the JDBC column size of other types.
"""

from __future__ import annotations

import re
from typing import Any

from flightpipe_local.redshift.database import Database
from flightpipe_local.redshift.types import redshift_type_name

# Schemas every Redshift database has that a user can query locally too.
SYSTEM_SCHEMAS = ("information_schema", "pg_catalog")
ENGINE_SCHEMAS = ("main",)  # the engine's own default schema: not a Redshift schema
TABLE_TYPES = {"BASE TABLE": "TABLE", "VIEW": "VIEW", "LOCAL TEMPORARY": "LOCAL TEMPORARY"}
DEFAULT_VARCHAR = 256  # VARCHAR without a length is VARCHAR(256) (Redshift Database Developer Guide: Character types)
# Catalog type names in their long (SQL standard) spelling -> the short names Redshift reports.
_LONG_NAMES = {
    "character varying": "varchar", "character": "bpchar", "char": "bpchar", "text": "varchar",
    "real": "float4", "double precision": "float8", "numeric": "numeric", "decimal": "numeric",
    "smallint": "int2", "integer": "int4", "bigint": "int8", "boolean": "bool",
    "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz",
    "time without time zone": "time", "time with time zone": "timetz",
}
# JDBC column size (precision) and decimal digits (scale) of the types whose size is not declared.
_SIZES = {
    "int2": (5, 0), "int4": (10, 0), "int8": (19, 0), "float4": (8, 8), "float8": (17, 17), "bool": (1, 0),
    "date": (13, 0), "time": (15, 6), "timetz": (21, 6), "timestamp": (29, 6), "timestamptz": (35, 6),
}
_SIGNED = ("int2", "int4", "int8", "float4", "float8", "numeric")
_CHARACTER = ("varchar", "bpchar")


def like(pattern: str | None) -> re.Pattern[str]:
    """A LIKE pattern as a regular expression (no pattern: everything)."""
    if not pattern:
        return re.compile(".*", re.DOTALL)
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _rows(database: Database, sql: str) -> list[dict[str, Any]]:
    result = database.execute(sql)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


def _own(row: dict[str, Any], name: str, catalog_column: str) -> bool:
    """A catalog row of this database (the engine's catalog also lists its system and temp catalogs)."""
    catalog = row.get(catalog_column)
    return catalog is None or catalog == name


def schemas(database: Database, name: str, pattern: str | None) -> list[str]:
    rows = _rows(database, "SELECT catalog_name, schema_name FROM information_schema.schemata")
    found = {r["schema_name"] for r in rows if _own(r, name, "catalog_name")} - set(ENGINE_SCHEMAS)
    wanted = like(pattern)
    return sorted(s for s in found | set(SYSTEM_SCHEMAS) if wanted.fullmatch(s))


def tables(database: Database, name: str, schema_pattern: str | None, table_pattern: str | None
           ) -> list[dict[str, str]]:
    rows = _rows(database, "SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables")
    in_schema, named = like(schema_pattern), like(table_pattern)
    found = [
        {"name": r["table_name"], "schema": r["table_schema"], "type": TABLE_TYPES.get(r["table_type"],
                                                                                     r["table_type"])}
        for r in rows
        if _own(r, name, "table_catalog") and r["table_schema"] not in ENGINE_SCHEMAS
        and in_schema.fullmatch(r["table_schema"]) and named.fullmatch(r["table_name"])
    ]
    return sorted(found, key=lambda t: (t["schema"], t["name"]))


def columns(database: Database, name: str, schema: str | None, table: str | None) -> list[dict[str, Any]]:
    """ColumnMetadata of the columns of `schema`.`table` (no schema: every schema; no table: every table)."""
    rows = _rows(database, "SELECT table_catalog, table_schema, table_name, column_name, ordinal_position, "
                           "column_default, is_nullable, data_type, character_maximum_length, numeric_precision, "
                           "numeric_scale FROM information_schema.columns")
    chosen = [
        r for r in rows
        if _own(r, name, "table_catalog") and r["table_schema"] not in ENGINE_SCHEMAS
        and (not schema or r["table_schema"] == schema) and (not table or r["table_name"] == table)
    ]
    chosen.sort(key=lambda r: (r["table_schema"], r["table_name"], r["ordinal_position"]))
    return [_column(r) for r in chosen]


def type_name(catalog_type: str) -> str:
    """Redshift's short type name (int8, varchar, numeric ...) of a catalog's data_type."""
    base = catalog_type.split("(", 1)[0].strip().lower()
    return _LONG_NAMES.get(base) or redshift_type_name(catalog_type)


def _column(row: dict[str, Any]) -> dict[str, Any]:
    kind = type_name(str(row["data_type"]))
    if kind in _CHARACTER:
        size, scale = int(row["character_maximum_length"] or DEFAULT_VARCHAR), 0
    elif kind == "numeric":
        size, scale = int(row["numeric_precision"] or 18), int(row["numeric_scale"] or 0)
    else:
        size, scale = _SIZES.get(kind, (int(row["character_maximum_length"] or 0), 0))
    body = {
        "isCaseSensitive": kind in _CHARACTER,
        "isCurrency": False,
        "isSigned": kind in _SIGNED,
        "length": size,
        "name": row["column_name"],
        "nullable": 1 if str(row["is_nullable"]).upper() == "YES" else 0,
        "precision": size,
        "scale": scale,
        "schemaName": row["table_schema"],
        "tableName": row["table_name"],
        "typeName": kind,
    }
    if row["column_default"] is not None:
        body["columnDefault"] = str(row["column_default"])
    return body
