"""The type names Redshift reports for a column."""

from __future__ import annotations

# DuckDB type name (prefix) -> the type name Redshift reports in result metadata.
# HUGEINT (DuckDB's SUM of integers) reports as int8: Redshift says int8 for SUM(int4), numeric(38,0) for SUM(int8).
_REDSHIFT_TYPES = [
    ("BIGINT", "int8"), ("HUGEINT", "int8"), ("UBIGINT", "numeric"), ("INTEGER", "int4"),
    ("UINTEGER", "int8"), ("SMALLINT", "int2"), ("USMALLINT", "int4"), ("TINYINT", "int2"),
    ("UTINYINT", "int2"), ("DOUBLE", "float8"), ("FLOAT", "float4"), ("DECIMAL", "numeric"),
    ("VARCHAR", "varchar"), ("BOOLEAN", "bool"), ("DATE", "date"),
    ("TIMESTAMP WITH TIME ZONE", "timestamptz"), ("TIMESTAMP", "timestamp"),
    ("TIME WITH TIME ZONE", "timetz"), ("TIME", "time"), ("BLOB", "varbyte"), ("INTERVAL", "interval"),
    ("JSON", "super"),
]


def redshift_type_name(duckdb_type: str) -> str:
    for prefix, name in _REDSHIFT_TYPES:
        if duckdb_type.upper().startswith(prefix):
            return name
    return duckdb_type.lower()
