"""The JSON shapes of the local Data API's answers (Data API Reference: DescribeStatement, SubStatementData,
GetStatementResult, GetStatementResultV2, Field, ColumnMetadata)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
from typing import Any

from flightpipe_local.redshift import validation
from flightpipe_local.redshift.database import Result
from flightpipe_local.redshift.statements import Statement, SubStatement

PAGE_SIZE = 1000  # rows per GetStatementResult page (AWS pages by size; small enough that paging is real)



def without_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def describe(statement: Statement) -> dict[str, Any]:
    result = statement.result
    body = {
        "Id": statement.id,
        "Status": statement.status,
        "QueryString": None if statement.is_batch else statement.sqls[0],
        "Database": statement.database,
        "CreatedAt": statement.created_at,
        "UpdatedAt": statement.updated_at,
        "Duration": statement.duration_ns,
        "HasResultSet": bool(result and result.has_result_set),
        "ResultRows": result.rows_affected if result else -1,
        "ResultSize": result_size(result) if result else -1,
        "RedshiftPid": statement.redshift_pid,
        "RedshiftQueryId": statement.query_id,
        "QueryParameters": statement.parameters or None,
        "ClusterIdentifier": statement.cluster_identifier,
        "WorkgroupName": statement.workgroup_name,
        "DbUser": statement.db_user,
        "SecretArn": statement.secret_arn,
        "ResultFormat": statement.result_format,
        "Error": statement.error,
    }
    if statement.is_batch:
        # As the Management Guide's "Describe metadata about a SQL statement" shows a batch: no QueryString of
        # its own, RedshiftQueryId 0, ResultRows and ResultSize added up over its statements; and "the value
        # [HasResultSet] is true if any substatement returns a result set" (DescribeStatement).
        results = [s.result for s in statement.subs if s.result is not None]
        body["HasResultSet"] = any(r.has_result_set for r in results)
        body["RedshiftQueryId"] = 0
        if results:
            body["ResultRows"] = sum(r.rows_affected for r in results)
            body["ResultSize"] = sum(result_size(r) for r in results)
        body["SubStatements"] = [describe_sub(statement, s) for s in statement.subs]
    return without_none(body)


def describe_sub(statement: Statement, sub: SubStatement) -> dict[str, Any]:
    result = sub.result
    return without_none({
        "Id": sub.id,
        "Status": sub.status,
        "QueryString": sub.query_string,
        "CreatedAt": sub.created_at,
        "UpdatedAt": sub.updated_at,
        "Duration": result.elapsed_ns if result else -1,
        "HasResultSet": bool(result and result.has_result_set),
        "ResultRows": result.rows_affected if result else -1,
        "ResultSize": result_size(result) if result else -1,
        "RedshiftQueryId": statement.query_id + int(sub.id.rsplit(":", 1)[1]),
        "Error": sub.error,
    })


def result_size(result: Result) -> int:
    if not result.has_result_set:
        return 0
    return sum(len(str(value)) for row in result.rows[:PAGE_SIZE] for value in row) * max(
        1, len(result.rows) // PAGE_SIZE
    )


def field_encoder(type_name: str):
    """Redshift's JSON for one value of a column: whole numbers as longValue, floats as doubleValue,
    booleans as booleanValue, everything else (numeric, date, timestamp, varchar) as stringValue."""
    if type_name in ("int2", "int4", "int8"):
        return lambda v: {"longValue": int(v)}
    if type_name in ("float4", "float8"):
        return lambda v: {"doubleValue": float(v)}
    if type_name == "bool":
        return lambda v: {"booleanValue": bool(v)}
    if type_name in ("timestamp", "timestamptz"):
        return lambda v: {"stringValue": v.isoformat(sep=" ") if isinstance(v, dt.datetime) else str(v)}
    if type_name == "numeric":
        return lambda v: {"stringValue": format(v, "f") if isinstance(v, decimal.Decimal) else str(v)}
    return lambda v: {"stringValue": str(v)}


def column_metadata(result: Result) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "label": name,
            "typeName": type_name,
            "nullable": 1,
            "isSigned": type_name in ("int2", "int4", "int8", "float4", "float8", "numeric"),
            "isCaseSensitive": type_name == "varchar",
            "isCurrency": False,
            "precision": 0,
            "scale": 0,
            "length": 0,
            "schemaName": "",
            "tableName": "",
        }
        for name, type_name in zip(result.columns, result.type_names, strict=True)
    ]


def json_page(result: Result, next_token: str | None) -> dict[str, Any]:
    start = validation.decode_token("GetStatementResult", next_token)
    encoders = [field_encoder(t) for t in result.type_names]
    rows = result.rows[start : start + PAGE_SIZE]
    records = [
        [{"isNull": True} if value is None else encode(value) for encode, value in zip(encoders, row, strict=True)]
        for row in rows
    ]
    body: dict[str, Any] = {
        "ColumnMetadata": column_metadata(result),
        "Records": records,
        "TotalNumRows": len(result.rows),
    }
    if start + PAGE_SIZE < len(result.rows):
        body["NextToken"] = validation.encode_token("GetStatementResult", start + PAGE_SIZE)
    return body


def csv_page(result: Result, next_token: str | None) -> dict[str, Any]:
    """GetStatementResultV2 of a statement run with ResultFormat CSV: the rows of a page as CSV text."""
    start = validation.decode_token("GetStatementResultV2", next_token)
    rows = result.rows[start : start + PAGE_SIZE]
    text = io.StringIO()
    writer = csv.writer(text)
    for row in rows:
        writer.writerow(["" if v is None else csv_value(t, v) for t, v in zip(result.type_names, row, strict=True)])
    body: dict[str, Any] = {
        "ColumnMetadata": column_metadata(result),
        "Records": [{"CSVRecords": text.getvalue()}] if rows else [],
        "TotalNumRows": len(result.rows),
        "ResultFormat": "CSV",
    }
    if start + PAGE_SIZE < len(result.rows):
        body["NextToken"] = validation.encode_token("GetStatementResultV2", start + PAGE_SIZE)
    return body


def csv_value(type_name: str, value: Any) -> str:
    """A value as CSV text: the text its JSON field carries; booleans as Redshift prints them (t, f)."""
    if type_name == "bool":
        return "t" if value else "f"
    return str(next(iter(field_encoder(type_name)(value).values())))
