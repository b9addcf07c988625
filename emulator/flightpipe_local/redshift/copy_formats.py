"""How COPY turns one raw text field into a column's value, in SQL, and when the field is a load error.

Sources: doc "Data conversion parameters" (NULL AS, EMPTYASNULL, BLANKSASNULL, TRIMBLANKS, TRUNCATECOLUMNS,
FILLRECORD, ACCEPTANYDATE, DATEFORMAT/TIMEFORMAT), doc "DATEFORMAT and TIMEFORMAT strings", doc "Using automatic
recognition with DATEFORMAT and TIMEFORMAT", doc "Load error reference" (the err_code values).
"""

from __future__ import annotations

from dataclasses import dataclass

from flightpipe_local.redshift.copy_options import CopyCommand
from flightpipe_local.redshift.to_char import strptime_format
from flightpipe_local.redshift.translate import sql_str

# The layouts 'auto' recognises (doc "Using automatic recognition with DATEFORMAT and TIMEFORMAT").
_AUTO_DATES = ["%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y/%m/%d", "%Y%m%d", "%b-%d-%Y", "%b %d, %Y", "%B %d, %Y",
               "%d-%b-%Y", "%Y.%j", "%m/%d/%y"]
_AUTO_TIMES = ["%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S",
               "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M:%S", "%Y%m%d %H:%M:%S", "%Y%m%d %H%M%S", "%b %d %Y %H:%M:%S",
               "%Y-%m-%d"]
_INTEGERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_TYPE_NAMES = {"SMALLINT": "Short", "INTEGER": "Integer", "BIGINT": "Long", "DOUBLE": "Double", "FLOAT": "Float",
               "BOOLEAN": "Boolean", "DATE": "Date", "TIMESTAMP": "Timestamp", "VARCHAR": "varchar"}


@dataclass
class FieldCheck:
    value: str  # SQL: the column's value from the raw field
    bad: str  # SQL: true when the field is a load error
    type_name: str
    length: int | None
    kind: str

    def reason(self, raw: str) -> tuple[int, str]:
        """err_code and err_reason for a bad field (doc "Load error reference")."""
        if raw is None or raw == "":
            return 1214, "Delimiter not found"
        if self.kind == "VARCHAR":
            return 1204, "String length exceeds DDL length"
        if self.kind == "DATE":
            return 1205, "Invalid Date Format - length must be 10 or more" if len(raw) < 10 \
                else "Date format is invalid"
        if self.kind == "TIMESTAMP":
            return 1206, "Invalid timestamp format or value"
        if self.kind in _INTEGERS or self.kind in ("DOUBLE", "FLOAT", "DECIMAL"):
            text = raw.strip()
            allowed = "0123456789+-" + (".eE" if self.kind != "INTEGER" else "")
            position = next((i for i, c in enumerate(text) if c not in allowed), None)
            if position is None:
                return 1216, f"Overflow, Value '{text}', Type: {self.type_name}"
            return 1207, f"Invalid digit, Value '{text[position]}', Pos {position}, Type: {self.type_name}"
        return 1216, f"Invalid value for type {self.type_name}"


def _null_marker(cmd: CopyCommand) -> str:
    # Redshift's default NULL AS is '\N' for delimited text; in CSV mode an empty field is the usual null.
    return cmd.null_as if cmd.null_as is not None else ("" if cmd.format == "CSV" else "\\N")


def _parse_time(raw: str, formats: list[str]) -> str:
    return "coalesce(" + ", ".join(f"try_strptime({raw}, {sql_str(f)})" for f in formats) + ")"


def field_checks(cmd: CopyCommand, field: str, column: str, duck_type: str, length: int | None,
                 missing: str) -> FieldCheck:
    v = f'"{field}"'
    kind = duck_type.upper().split("(")[0]
    kind = "DECIMAL" if kind == "DECIMAL" else kind
    is_missing = f"{v} IS NULL"
    marker = f"{v} = {sql_str(_null_marker(cmd))}"
    if kind == "VARCHAR":
        text = f"rtrim({v})" if cmd.trim_blanks else v
        empty = f"trim({v}) = ''" if cmd.blanks_as_null else f"{v} = ''" if cmd.empty_as_null else "FALSE"
        null = f"({marker} OR {empty})"
        value = f"left({text}, {length})" if (length and cmd.truncate_columns) else text
        too_long = f"strlen({text}) > {length}" if (length and not cmd.truncate_columns) else "FALSE"
        converted, bad_value = value, too_long
    else:
        null = f"({marker} OR trim({v}) = '')"
        converted = _converted(cmd, v, kind, duck_type)
        bad_value = f"{converted} IS NULL"
        if kind in ("DATE", "TIMESTAMP") and cmd.accept_any_date:
            bad_value = "FALSE"
    missing_bad = "FALSE" if cmd.fill_record else is_missing
    value_sql = f"CASE WHEN {is_missing} OR {null} THEN NULL ELSE {converted} END"
    bad_sql = f"{missing_bad} OR (NOT ({is_missing}) AND NOT {null} AND {bad_value})"
    return FieldCheck(value=value_sql, bad=bad_sql, type_name=_TYPE_NAMES.get(kind, kind.lower()),
                      length=length, kind=kind)


def _converted(cmd: CopyCommand, v: str, kind: str, duck_type: str) -> str:
    if kind == "DATE" and cmd.date_format:
        if cmd.date_format.lower() == "auto":
            return f"CAST({_parse_time(f'trim({v})', _AUTO_DATES)} AS DATE)"
        return f"CAST(try_strptime(trim({v}), {sql_str(strptime_format(cmd.date_format))}) AS DATE)"
    if kind == "TIMESTAMP" and cmd.time_format:
        fmt = cmd.time_format.lower()
        if fmt == "auto":
            return _parse_time(f"trim({v})", _AUTO_TIMES)
        if fmt == "epochsecs":
            return f"CAST(to_timestamp(TRY_CAST(trim({v}) AS DOUBLE)) AS TIMESTAMP)"
        if fmt == "epochmillisecs":
            return f"CAST(to_timestamp(TRY_CAST(trim({v}) AS DOUBLE) / 1000) AS TIMESTAMP)"
        return f"try_strptime(trim({v}), {sql_str(strptime_format(cmd.time_format))})"
    return f"TRY_CAST(trim({v}) AS {duck_type})"
