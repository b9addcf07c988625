# ruff: noqa: S608 - SQL here is built from quoted identifiers and literals; values travel as parameters
"""The catalog a Redshift user queries, as views over DuckDB's own catalog, in an in-memory database
(`rs_catalog`) attached next to the warehouse file, so the file holds only the user's data.

Type names, lengths and table attributes come from the comments ddl.py writes at CREATE TABLE time. Sources:
doc "PG_TABLE_DEF" (https://docs.aws.amazon.com/redshift/latest/dg/r_PG_TABLE_DEF.html; only tables in schemas
on the search_path, which is `$user, public`), doc "SVV_TABLE_INFO" (no rows for empty tables), doc
"STL_LOAD_ERRORS", doc "System catalog tables" (pg_namespace, pg_class, pg_attribute).
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

CATALOG = "rs_catalog"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
# Relation names a query may use without a schema, and the view that answers them.
UNQUALIFIED = {"pg_table_def", "svv_table_info", "stl_load_errors", "pg_namespace", "pg_class", "pg_attribute",
               "svv_tables", "svv_columns", "pg_tables", "pg_views"}
QUALIFIED = {("information_schema", "tables"): "information_schema_tables",
             ("information_schema", "columns"): "information_schema_columns",
             ("information_schema", "schemata"): "information_schema_schemata",
             **{("pg_catalog", name): name for name in UNQUALIFIED}}

_TYPE_OIDS = {"bigint": 20, "integer": 23, "smallint": 21, "double precision": 701, "real": 700, "boolean": 16,
              "character varying": 1043, "character": 1042, "date": 1082, "timestamp without time zone": 1114,
              "timestamp with time zone": 1184, "numeric": 1700, "time without time zone": 1083}

_VIEWS = f"""
CREATE OR REPLACE MACRO {CATALOG}.rs_type(duck, declared) AS coalesce(declared, CASE
    WHEN duck = 'BIGINT' THEN 'bigint' WHEN duck = 'INTEGER' THEN 'integer' WHEN duck = 'SMALLINT' THEN 'smallint'
    WHEN duck = 'DOUBLE' THEN 'double precision' WHEN duck = 'FLOAT' THEN 'real' WHEN duck = 'BOOLEAN' THEN 'boolean'
    WHEN duck = 'DATE' THEN 'date' WHEN duck = 'TIMESTAMP' THEN 'timestamp without time zone'
    WHEN duck = 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp with time zone' WHEN duck = 'HUGEINT' THEN 'numeric(38,0)'
    WHEN duck = 'VARCHAR' THEN 'character varying(256)' WHEN duck LIKE 'DECIMAL%' THEN
        'numeric' || replace(substr(duck, 8), ' ', '')
    ELSE lower(duck) END);
CREATE OR REPLACE VIEW {CATALOG}.user_tables AS
SELECT CASE WHEN t.temporary THEN 'pg_temp_1' ELSE t.schema_name END AS schema_name, t.table_name,
       t.table_oid AS oid, 'TABLE' AS kind, t.estimated_size AS tbl_rows, t.temporary,
       CASE WHEN t.comment LIKE '{{%' THEN t.comment END AS meta
FROM duckdb_tables() t
WHERE (t.database_name = current_database() AND t.schema_name <> 'main') OR t.database_name = 'temp'
UNION ALL
SELECT v.schema_name, v.view_name, v.view_oid, 'VIEW', NULL, v.temporary, NULL
FROM duckdb_views() v
WHERE NOT v.internal AND v.database_name = current_database() AND v.schema_name <> 'main';
CREATE OR REPLACE VIEW {CATALOG}.user_columns AS
SELECT CASE WHEN c.database_name = 'temp' THEN 'pg_temp_1' ELSE c.schema_name END AS schema_name, c.table_name,
       c.table_oid, c.column_name, c.column_index AS ordinal,
       {CATALOG}.rs_type(c.data_type, json_extract_string(m.meta, '$.type')) AS rs_type,
       NOT c.is_nullable AS not_null, c.column_default,
       coalesce(json_extract_string(m.meta, '$.encode'), 'none') AS encoding,
       coalesce(json_extract(m.meta, '$.distkey')::BOOLEAN, FALSE) AS distkey,
       coalesce(json_extract(m.meta, '$.identity')::BOOLEAN, FALSE) AS is_identity
FROM duckdb_columns() c
JOIN duckdb_tables() t ON t.table_oid = c.table_oid
CROSS JOIN LATERAL (SELECT CASE WHEN t.comment LIKE '{{%' THEN
    json_extract(t.comment, '$.columns."' || lower(c.column_name) || '"') END AS meta) m
WHERE ((c.database_name = current_database() AND c.schema_name <> 'main') OR c.database_name = 'temp')
  AND NOT c.internal
UNION ALL
SELECT v.schema_name, v.table_name, v.table_oid, v.column_name, v.column_index, {CATALOG}.rs_type(v.data_type, NULL),
       FALSE, NULL, 'none', FALSE, FALSE
FROM duckdb_columns() v JOIN duckdb_views() w ON w.view_oid = v.table_oid
WHERE v.database_name = current_database() AND v.schema_name <> 'main' AND NOT w.internal;
CREATE OR REPLACE VIEW {CATALOG}.information_schema_schemata AS
SELECT current_database() AS catalog_name, schema_name, 'rdsdb' AS schema_owner FROM (
    SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name <> 'main'
    UNION ALL SELECT unnest(['pg_catalog', 'information_schema']));
CREATE OR REPLACE VIEW {CATALOG}.information_schema_tables AS
SELECT current_database() AS table_catalog, schema_name AS table_schema, table_name,
       CASE WHEN kind = 'VIEW' THEN 'VIEW' WHEN temporary THEN 'LOCAL TEMPORARY' ELSE 'BASE TABLE' END AS table_type
FROM {CATALOG}.user_tables;
CREATE OR REPLACE VIEW {CATALOG}.information_schema_columns AS
SELECT current_database() AS table_catalog, schema_name AS table_schema, table_name, column_name,
       ordinal::INTEGER AS ordinal_position, column_default,
       CASE WHEN not_null THEN 'NO' ELSE 'YES' END AS is_nullable,
       regexp_replace(rs_type, '\\(.*\\)', '') AS data_type,
       CASE WHEN rs_type LIKE 'character%' THEN regexp_extract(rs_type, '\\((\\d+)\\)', 1)::INTEGER END
           AS character_maximum_length,
       CASE WHEN rs_type LIKE 'numeric%' THEN regexp_extract(rs_type, '\\((\\d+),', 1)::INTEGER
            WHEN rs_type = 'bigint' THEN 64 WHEN rs_type = 'integer' THEN 32 WHEN rs_type = 'smallint' THEN 16
            WHEN rs_type = 'double precision' THEN 53 WHEN rs_type = 'real' THEN 24 END AS numeric_precision,
       CASE WHEN rs_type LIKE 'numeric%' THEN regexp_extract(rs_type, ',(\\d+)\\)', 1)::INTEGER
            WHEN rs_type IN ('bigint', 'integer', 'smallint') THEN 0 END AS numeric_scale
FROM {CATALOG}.user_columns;
CREATE OR REPLACE VIEW {CATALOG}.pg_namespace AS
SELECT oid, schema_name AS nspname, 1 AS nspowner FROM duckdb_schemas()
WHERE (database_name = current_database() AND schema_name <> 'main')
   OR (database_name = 'system' AND schema_name IN ('pg_catalog', 'information_schema'));
CREATE OR REPLACE VIEW {CATALOG}.pg_class AS
SELECT t.oid, t.table_name AS relname, n.oid AS relnamespace, CASE WHEN t.kind = 'VIEW' THEN 'v' ELSE 'r' END
       AS relkind, coalesce(t.tbl_rows, 0)::DOUBLE AS reltuples
FROM {CATALOG}.user_tables t LEFT JOIN {CATALOG}.pg_namespace n ON n.nspname = t.schema_name;
CREATE OR REPLACE VIEW {CATALOG}.pg_attribute AS
SELECT table_oid AS attrelid, column_name AS attname, ordinal::SMALLINT AS attnum,
       CASE {' '.join(f"WHEN rs_type LIKE '{name}%' THEN {oid}" for name, oid in _TYPE_OIDS.items())} END
           AS atttypid, not_null AS attnotnull
FROM {CATALOG}.user_columns;
CREATE OR REPLACE VIEW {CATALOG}.pg_tables AS
SELECT schema_name AS schemaname, table_name AS tablename, 'rdsdb' AS tableowner
FROM {CATALOG}.user_tables WHERE kind = 'TABLE';
CREATE OR REPLACE VIEW {CATALOG}.pg_views AS
SELECT schema_name AS schemaname, table_name AS viewname, 'rdsdb' AS viewowner
FROM {CATALOG}.user_tables WHERE kind = 'VIEW';
CREATE OR REPLACE VIEW {CATALOG}.pg_table_def AS
SELECT c.schema_name AS schemaname, c.table_name AS tablename, c.column_name AS "column", c.rs_type AS type,
       c.encoding, c.distkey,
       coalesce(list_position(json_extract_string(t.meta, '$.sortkey[*]'), c.column_name), 0)::INTEGER
           * CASE WHEN json_extract(t.meta, '$.interleaved')::BOOLEAN THEN -1 ELSE 1 END AS sortkey,
       c.not_null AS notnull
FROM {CATALOG}.user_columns c
JOIN {CATALOG}.user_tables t ON t.schema_name = c.schema_name AND t.table_name = c.table_name
WHERE (list_contains(string_split(replace(current_setting('search_path'), ' ', ''), ','), c.schema_name)
       OR c.schema_name = 'pg_temp_1') AND t.kind = 'TABLE';
CREATE OR REPLACE VIEW {CATALOG}.svv_tables AS
SELECT current_database() AS table_catalog, table_schema, table_name, table_type, NULL AS remarks
FROM {CATALOG}.information_schema_tables;
CREATE OR REPLACE VIEW {CATALOG}.svv_columns AS
SELECT * FROM {CATALOG}.information_schema_columns;
CREATE OR REPLACE VIEW {CATALOG}.svv_table_info AS
SELECT current_database() AS database, t.schema_name AS schema, t.oid AS table_id, t.table_name AS "table",
       CASE WHEN EXISTS (SELECT 1 FROM {CATALOG}.user_columns c WHERE c.table_oid = t.oid AND c.encoding <> 'none')
            THEN 'Y' ELSE 'N' END AS encoded,
       CASE json_extract_string(t.meta, '$.diststyle')
            WHEN 'KEY' THEN 'KEY(' || json_extract_string(t.meta, '$.distkey') || ')'
            WHEN 'ALL' THEN 'ALL' WHEN 'EVEN' THEN 'EVEN' ELSE 'AUTO(ALL)' END AS diststyle,
       coalesce(CASE WHEN json_extract(t.meta, '$.interleaved')::BOOLEAN THEN 'INTERLEAVED'
                     ELSE json_extract_string(t.meta, '$.sortkey[0]') END, 'AUTO(SORTKEY)') AS sortkey1,
       coalesce(json_array_length(json_extract(t.meta, '$.sortkey')), 0)::INTEGER AS sortkey_num,
       t.tbl_rows::DECIMAL(38,0) AS tbl_rows, t.tbl_rows::DECIMAL(38,0) AS estimated_visible_rows
FROM {CATALOG}.user_tables t
WHERE t.kind = 'TABLE' AND NOT t.temporary AND t.tbl_rows > 0;
CREATE TABLE IF NOT EXISTS {CATALOG}.stl_load_errors (
    userid INTEGER, slice INTEGER, tbl INTEGER, starttime TIMESTAMP, session INTEGER, query INTEGER,
    filename VARCHAR, line_number BIGINT, colname VARCHAR, type VARCHAR, col_length VARCHAR, position INTEGER,
    raw_line VARCHAR, raw_field_value VARCHAR, err_code INTEGER, err_reason VARCHAR, is_partial INTEGER,
    start_offset BIGINT);
"""


def install(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {CATALOG}")
    db.execute(_VIEWS)


def catalog_table(table: exp.Table) -> exp.Table | None:
    """The catalog view a Redshift relation name means, if it is one."""
    schema, name = table.db.lower(), table.name.lower()
    view = QUALIFIED.get((schema, name)) if schema else (name if name in UNQUALIFIED else None)
    if view is None:
        return None
    return exp.Table(this=exp.to_identifier(view), db=exp.to_identifier("main"), catalog=exp.to_identifier(CATALOG),
                     alias=table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name)))


class CatalogQueries:
    """What the Data API's ListSchemas, ListTables and DescribeTable answer (patterns are SQL LIKE patterns)."""

    def _query(self, sql: str, params: list) -> list[tuple]:  # provided by Database
        raise NotImplementedError

    def schemas(self, pattern: str | None = None) -> list[str]:
        rows = self._query(f"SELECT schema_name FROM {CATALOG}.information_schema_schemata "
                           "WHERE schema_name LIKE ? ORDER BY schema_name", [pattern or "%"])
        return [r[0] for r in rows]

    def tables(self, schema_pattern: str | None = None, table_pattern: str | None = None) -> list[dict]:
        """[{"schema", "name", "type"}] with type TABLE, VIEW or LOCAL TEMPORARY."""
        rows = self._query(
            f"SELECT table_schema, table_name, CASE table_type WHEN 'BASE TABLE' THEN 'TABLE' ELSE table_type END "
            f"FROM {CATALOG}.information_schema_tables WHERE table_schema LIKE ? AND table_name LIKE ? "
            "ORDER BY table_schema, table_name", [schema_pattern or "%", table_pattern or "%"])
        return [{"schema": s, "name": n, "type": t} for s, n, t in rows]

    def columns(self, schema: str, table: str) -> list[dict]:
        """Per column: name, typeName (Redshift's short name: varchar, int8 …), length, precision, scale,
        nullable (1 or 0), columnDefault, schemaName, tableName, as the Data API's ColumnMetadata."""
        rows = self._query(
            f"SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale, "
            f"is_nullable, column_default FROM {CATALOG}.information_schema_columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, table])
        short = {"character varying": "varchar", "character": "bpchar", "bigint": "int8", "integer": "int4",
                 "smallint": "int2", "double precision": "float8", "real": "float4", "boolean": "bool",
                 "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz"}
        return [{"name": name, "typeName": short.get(data_type, data_type), "length": length or 0,
                 "precision": precision or 0, "scale": scale or 0, "nullable": int(nullable == "YES"),
                 "columnDefault": default, "schemaName": schema, "tableName": table}
                for name, data_type, length, precision, scale, nullable, default in rows]
