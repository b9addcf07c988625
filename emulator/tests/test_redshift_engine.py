"""The embedded warehouse on its own: Redshift SQL in, DuckDB underneath, S3 through a fake reader."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from flightpipe_local.redshift.copy import parse_copy
from flightpipe_local.redshift.database import Database
from flightpipe_local.redshift.errors import EngineError
from flightpipe_local.redshift.translate import top_level_statements
from flightpipe_local.redshift.unload import _options as unload_options

DATA = Path(__file__).resolve().parents[2] / "data"  # the repository's airports and sample days
SEED_DDL = (
    "CREATE SCHEMA IF NOT EXISTS airlines; CREATE TABLE airlines.airports_dim (airport_id BIGINT, "
    "city VARCHAR(100), state VARCHAR(100), name VARCHAR(200));"
)
SEED_COPY = (
    "COPY airlines.airports_dim FROM 's3://BUCKET/dim/airports.csv' IAM_ROLE 'arn:aws:iam::ACCOUNT:role/NAME' "
    "DELIMITER ',' IGNOREHEADER 1 REGION 'us-east-1';"
)


class FakeS3:
    """Objects by bucket and key; `read` is the warehouse's S3 reader (prefix semantics, like COPY)."""

    def __init__(self):
        self.objects: dict[tuple[str, str], bytes] = {}

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.objects[(bucket, key)] = body

    def read(self, bucket: str, prefix: str):
        return [(k, v) for (b, k), v in sorted(self.objects.items()) if b == bucket and k.startswith(prefix)]


@pytest.fixture
def s3():
    return FakeS3()


@pytest.fixture
def wh(tmp_path, s3):
    warehouse = Database(tmp_path / "dev.duckdb", s3_reader=s3.read)
    yield warehouse
    warehouse.close()


def rows(wh: Database, sql: str) -> list[tuple]:
    return wh.execute(sql).rows


def test_seed_ddl_and_copy_run_verbatim(wh, s3):
    s3.put("BUCKET", "dim/airports.csv", (DATA / "airports.csv").read_bytes())
    wh.execute(SEED_DDL)
    loaded = wh.execute(SEED_COPY)
    expected = pd.read_csv(DATA / "airports.csv", dtype={"airport_id": "int64"}, keep_default_na=False)
    assert loaded.rows_affected == len(expected)
    table = wh.execute("SELECT * FROM airlines.airports_dim ORDER BY airport_id")
    assert table.columns == list(expected.columns)
    assert table.type_names == ["int8", "varchar", "varchar", "varchar"]
    assert table.rows == list(expected.sort_values("airport_id").itertuples(index=False, name=None))


def test_copy_from_prefix_loads_every_object_under_it(wh, s3):
    s3.put("b", "in/part-1.csv", b"id,v\n1,a\n2,b\n")
    s3.put("b", "in/part-2.csv", b"id,v\n3,c\n")
    s3.put("b", "other/part-3.csv", b"id,v\n4,d\n")
    wh.execute("CREATE TABLE t (id INT, v VARCHAR(5))")
    copy = "-- the day's parts\nCOPY t FROM 's3://b/in/' IAM_ROLE default CSV IGNOREHEADER 1"
    assert wh.execute(copy).rows_affected == 3
    assert rows(wh, "SELECT id, v FROM t ORDER BY id") == [(1, "a"), (2, "b"), (3, "c")]


def test_copy_csv_quotes_nulls_and_empty_strings(wh, s3):
    s3.put("b", "q.csv", b'1,"Smith, John",\n2,,7\n3,NA,8\n')
    wh.execute("CREATE TABLE p (id INT, name VARCHAR(50), n INT)")
    wh.execute("COPY p FROM 's3://b/q.csv' IAM_ROLE default FORMAT AS CSV NULL AS 'NA'")
    # Redshift: an empty text field stays '' (no EMPTYASNULL), an empty number is NULL, the NULL marker is NULL.
    assert rows(wh, "SELECT * FROM p ORDER BY id") == [(1, "Smith, John", None), (2, "", 7), (3, None, 8)]
    wh.execute("TRUNCATE p")
    wh.execute("COPY p FROM 's3://b/q.csv' IAM_ROLE default CSV EMPTYASNULL")
    assert rows(wh, "SELECT name FROM p WHERE id = 2") == [(None,)]


def test_copy_parquet_from_several_parts_matches_by_position(wh, s3):
    parts = [
        pd.DataFrame({"carrier": ["AA", "DL"], "delay": [1.5, None], "day": pd.to_datetime(["2024-01-01"] * 2)}),
        pd.DataFrame({"carrier": ["UA"], "delay": [-3.0], "day": pd.to_datetime(["2024-01-02"])}),
    ]
    for number, part in enumerate(parts):
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        s3.put("b", f"stage/date=2024/part-{number}.parquet", buffer.getvalue())
    wh.execute("CREATE TABLE f (carrier VARCHAR(3), delay_minutes FLOAT8, flight_date DATE)")
    copied = wh.execute("COPY f FROM 's3://b/stage/' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET")
    expected = pd.concat(parts)
    assert copied.rows_affected == len(expected)
    got = rows(wh, "SELECT carrier, delay_minutes, flight_date FROM f ORDER BY carrier")
    want = sorted(
        (c, None if pd.isna(d) else d, day.date()) for c, d, day in expected.itertuples(index=False, name=None)
    )
    assert got == want


def test_copy_without_objects_fails_like_redshift(wh):
    wh.execute("CREATE TABLE t (a INT)")
    with pytest.raises(EngineError, match="The specified S3 prefix 'nothing/here' does not exist"):
        wh.execute("COPY t FROM 's3://b/nothing/here' IAM_ROLE default CSV")


def test_copy_bad_row_names_file_and_line(wh, s3):
    s3.put("b", "bad/flights.csv", b"id,v\n1,a\n2,b\nthree,c\n")
    wh.execute("CREATE TABLE t (id INT, v VARCHAR(5))")
    with pytest.raises(EngineError) as failure:
        wh.execute("COPY t FROM 's3://b/bad/' IAM_ROLE default DELIMITER ',' IGNOREHEADER 1")
    # Redshift's message (doc "STL_LOAD_ERRORS"); the file, line, column and value are in stl_load_errors.
    assert str(failure.value) == "Load into table 't' failed. Check 'stl_load_errors' system table for details."
    assert rows(wh, "SELECT count(*) FROM t") == [(0,)]  # nothing half-loaded
    errors = rows(wh, "SELECT filename, line_number, colname, raw_field_value, err_code FROM stl_load_errors")
    assert errors == [("s3://b/bad/flights.csv", 4, "id", "three", 1207)]


def test_copy_options_are_parsed():
    cmd = parse_copy(
        "COPY s.t (a, b) FROM 's3://bk/p/' IAM_ROLE default REGION AS 'eu-west-1' FORMAT AS CSV "
        "DELIMITER AS ';' IGNOREHEADER AS 2 QUOTE AS '''' NULL AS '\\N' EMPTYASNULL BLANKSASNULL "
        "DATEFORMAT 'auto' TIMEFORMAT 'auto' ACCEPTINVCHARS"
    )
    assert (cmd.table, cmd.columns, cmd.source, cmd.format) == ("s.t", ["a", "b"], "s3://bk/p/", "CSV")
    assert (cmd.delimiter, cmd.ignore_header, cmd.quote, cmd.null_as) == (";", 2, "'", "\\N")
    assert cmd.empty_as_null and cmd.blanks_as_null
    assert parse_copy("COPY t FROM 's3://b/m' IAM_ROLE default MANIFEST").manifest
    with pytest.raises(EngineError, match="FIXEDWIDTH is not supported by the local warehouse"):
        parse_copy("COPY t FROM 's3://b/m' IAM_ROLE default FIXEDWIDTH 'a:1'")
    # doc "COPY from columnar data formats": REGION is refused for Parquet.
    with pytest.raises(EngineError, match="^REGION argument is not supported for PARQUET based COPY$"):
        parse_copy("COPY t FROM 's3://b/p/' IAM_ROLE default FORMAT AS PARQUET REGION 'us-east-1'")


@pytest.mark.parametrize("statement, message", [
    ("COPY t FROM 's3://b/p/' IAM_ROLE default DELIMITER AS", "^COPY option DELIMITER needs a value$"),
    ("COPY t FROM 's3://b/p/' IAM_ROLE", "^COPY option IAM_ROLE needs a value$"),
    ("UNLOAD ('SELECT 1') TO 's3://b/p/' IAM_ROLE default NULL AS", "^UNLOAD option NULL needs a value$"),
])
def test_an_option_without_its_value_is_refused(statement, message):
    with pytest.raises(EngineError, match=message):
        parse_copy(statement) if statement.startswith("COPY") else unload_options(statement.split("'s3://b/p/'")[1])


def test_unload_option_values_quoted_as_written_bare_in_upper_case():
    options = unload_options(" IAM_ROLE default PARALLEL off NULL AS 'n''a' DELIMITER '|';")
    assert (options["IAM_ROLE"], options["PARALLEL"], options["NULL"], options["DELIMITER"]) == (
        "DEFAULT", "OFF", "n'a", "|")


def test_batch_is_all_or_nothing(wh):
    wh.execute("CREATE TABLE kept (a INT)")
    with pytest.raises(EngineError) as failure:
        wh.execute_batch([
            "CREATE TABLE made_in_batch (a INT)",
            "INSERT INTO kept VALUES (1)",
            "INSERT INTO missing_table VALUES (1)",
        ])
    assert failure.value.statement_index == 3
    assert "missing_table" in str(failure.value)
    assert rows(wh, "SELECT count(*) FROM kept") == [(0,)]
    assert rows(wh, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'made_in_batch'") == [(0,)]


def test_redshift_table_attributes_are_accepted_and_identity_counts(wh):
    wh.execute("CREATE SCHEMA IF NOT EXISTS airlines")
    wh.execute(
        "CREATE TABLE IF NOT EXISTS airlines.fact (id BIGINT IDENTITY(1,1), carrier VARCHAR(10) ENCODE zstd "
        "NOT NULL, dep_city VARCHAR(MAX) distkey, flight_date DATE ENCODE az64 sortkey) "
        "DISTSTYLE KEY COMPOUND SORTKEY(flight_date, carrier) BACKUP NO"
    )
    wh.execute("CREATE TABLE airlines.other (a INT) DISTSTYLE ALL SORTKEY(a)")
    wh.execute("INSERT INTO airlines.fact (carrier, flight_date) VALUES ('AA', '2024-01-01'), ('DL', '2024-01-02')")
    assert rows(wh, "SELECT id, carrier FROM airlines.fact ORDER BY id") == [(1, "AA"), (2, "DL")]
    with pytest.raises(EngineError):
        wh.execute("INSERT INTO airlines.fact (carrier) VALUES (NULL)")  # NOT NULL survived the translation


def test_delete_using_update_from_and_listagg(wh):
    people = pd.DataFrame({"id": [1, 2, 3, 4], "city": ["Oslo", "Rome", "Oslo", "Lima"]})
    wh.execute("CREATE TABLE p (id INT, city VARCHAR(20), tag VARCHAR(20))")
    wh.execute("INSERT INTO p (id, city) VALUES " + ", ".join(f"({i}, '{c}')" for i, c in people.values))
    wh.execute("CREATE TABLE gone (id INT); INSERT INTO gone VALUES (2)")
    wh.execute("CREATE TABLE tags (city VARCHAR(20), tag VARCHAR(20)); INSERT INTO tags VALUES ('Oslo', 'north')")
    assert wh.execute("DELETE FROM p USING gone WHERE p.id = gone.id").rows_affected == 1
    assert wh.execute("UPDATE p SET tag = tags.tag FROM tags WHERE p.city = tags.city").rows_affected == 2
    kept = people[people.id != 2]
    assert rows(wh, "SELECT id FROM p WHERE tag = 'north' ORDER BY id") == [
        (i,) for i in kept[kept.city == "Oslo"].id
    ]
    listed = wh.execute("SELECT LISTAGG(city, ',') WITHIN GROUP (ORDER BY city) FROM p")
    assert listed.columns == ["listagg"]
    assert listed.rows == [(",".join(sorted(kept.city)),)]


def test_merge(wh):
    wh.execute("CREATE TABLE t (id INT, v VARCHAR(5)); INSERT INTO t VALUES (1, 'old')")
    wh.execute("CREATE TABLE s (id INT, v VARCHAR(5)); INSERT INTO s VALUES (1, 'new'), (2, 'add')")
    wh.execute(
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v "
        "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)"
    )
    assert rows(wh, "SELECT * FROM t ORDER BY id") == rows(wh, "SELECT * FROM s ORDER BY id")


def test_temp_table_like_lives_for_one_call(wh):
    wh.execute("CREATE TABLE base (a BIGINT, b DATE)")
    staged = wh.execute_batch([
        "CREATE TEMP TABLE stage (LIKE base)",
        "INSERT INTO stage VALUES (1, '2024-01-01')",
        "SELECT * FROM stage",
    ])
    assert staged[-1].type_names == ["int8", "date"] and staged[-1].rows == [(1, dt.date(2024, 1, 1))]
    wh.execute("CREATE TEMP TABLE stage (LIKE base)")  # a new call is a new session: no clash


def test_maintenance_and_transaction_commands_are_no_ops(wh):
    wh.execute("CREATE TABLE t (a INT)")
    results = wh.execute_batch(
        ["BEGIN", "-- keep writers out\nLOCK t", "INSERT INTO t VALUES (1)", "ANALYZE t", "VACUUM t", "END"]
    )
    assert [r.rows_affected for r in results] == [0, 0, 1, 0, 0, 0]
    wh.execute("BEGIN TRANSACTION; TRUNCATE t; COMMIT;")
    assert rows(wh, "SELECT count(*) FROM t") == [(0,)]


def test_result_types_follow_redshift_names(wh):
    result = wh.execute(
        "SELECT 1::BIGINT AS b, 2::INT AS i, 1.5::FLOAT8 AS d, 'x'::VARCHAR AS s, TRUE AS t, "
        "'2024-02-29'::DATE AS dd, '2024-02-29 10:11:12'::TIMESTAMP AS ts, 1.25::DECIMAL(5,2) AS n, NULL AS z"
    )
    assert result.type_names[:8] == ["int8", "int4", "float8", "varchar", "bool", "date", "timestamp", "numeric"]
    assert result.rows[0][-1] is None


def test_getdate_and_sysdate_are_utc_now(wh):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = wh.execute("SELECT GETDATE() AS g, SYSDATE AS s, CURRENT_TIMESTAMP AS c")
    assert result.type_names == ["timestamp", "timestamp", "timestamp"]
    for value in result.rows[0]:
        assert abs((value - now).total_seconds()) < 60


def test_parameters_are_data_never_sql(wh):
    wh.execute("CREATE TABLE t (id BIGINT, v VARCHAR(100))")
    evil = "x'; DROP TABLE t; --"
    wh.execute("INSERT INTO t VALUES (:id, :v)", {"id": "7", "v": evil})
    assert rows(wh, "SELECT id, v FROM t") == [(7, evil)]
    assert wh.execute("SELECT count(*) FROM t WHERE id = :id", {"id": "7"}).rows == [(1,)]
    with pytest.raises(EngineError, match=":missing"):
        wh.execute("SELECT * FROM t WHERE id = :missing", {"id": "7"})


def test_bad_sql_reports_the_engine_message(wh):
    with pytest.raises(EngineError, match="no_such_table"):
        wh.execute("SELECT * FROM no_such_table")
    with pytest.raises(EngineError, match="syntax"):
        wh.execute("SELEC 1")


def test_data_survives_a_new_warehouse_on_the_same_file(tmp_path):
    first = Database(tmp_path / "dev.duckdb")
    first.execute("CREATE SCHEMA s; CREATE TABLE s.t (a INT); INSERT INTO s.t VALUES (41), (1)")
    first.close()
    second = Database(tmp_path / "dev.duckdb")
    assert second.execute("SELECT sum(a) AS total FROM s.t").rows == [(42,)]
    second.close()


def test_top_level_statements_respect_quotes_and_comments():
    sql = "SELECT 'a;b'; -- c;\nSELECT 2;  ;"
    assert top_level_statements(sql) == ["SELECT 'a;b'", "-- c;\nSELECT 2"]


def test_catalog_api_for_the_data_api(wh):
    """What ListSchemas / ListTables / DescribeTable answer (doc "Redshift Data API": ColumnMetadata)."""
    wh.execute("CREATE SCHEMA airlines; CREATE TABLE airlines.fact (carrier VARCHAR(10) NOT NULL, dep_delay BIGINT, "
               "amount DECIMAL(8,2), flight_date DATE); CREATE VIEW airlines.late AS SELECT * FROM airlines.fact")
    assert "airlines" in wh.schemas() and "public" in wh.schemas()
    assert wh.schemas("air%") == ["airlines"]
    assert wh.tables("airlines", "%") == [{"schema": "airlines", "name": "fact", "type": "TABLE"},
                                          {"schema": "airlines", "name": "late", "type": "VIEW"}]
    assert wh.tables("air%", "f_ct") == [{"schema": "airlines", "name": "fact", "type": "TABLE"}]
    columns = wh.columns("airlines", "fact")
    assert [(c["name"], c["typeName"], c["length"], c["precision"], c["scale"], c["nullable"]) for c in columns] == [
        ("carrier", "varchar", 10, 0, 0, 0), ("dep_delay", "int8", 0, 64, 0, 1), ("amount", "numeric", 0, 8, 2, 1),
        ("flight_date", "date", 0, 0, 0, 1)]


def test_identifiers_fold_and_integers_divide_as_on_redshift(wh):
    wh.execute("CREATE TABLE t (Delay INT); INSERT INTO t VALUES (1), (2), (4)")
    result = wh.execute("SELECT AVG(Delay) AS MeanDelay, SUM(Delay) / COUNT(*) AS Ratio, 7 / 2 FROM T")
    # doc "AVG function": BIGINT for integers; doc "Names and identifiers": folded to lower case.
    assert result.columns == ["meandelay", "ratio", "?column?"]
    assert result.rows == [(2, 2, 3)] and result.type_names[0] == "int8"


def test_a_column_type_is_read_from_the_table_the_query_names(wh):
    # Same-named tables in two schemas and a temporary one: each reference resolves as Redshift resolves it (doc
    # "search_path": a qualified name in its schema, an unqualified one by the path, a temporary table first, doc
    # "CREATE TABLE": TEMPORARY), and AVG returns that table's type (doc "AVG function": BIGINT for an integer
    # argument, DECIMAL(38, scale of the argument) for a DECIMAL one).
    wh.execute("CREATE SCHEMA airlines")
    wh.execute("CREATE TABLE airlines.t (v DECIMAL(10,2)); INSERT INTO airlines.t VALUES (1.00), (2.00)")
    wh.execute("CREATE TABLE t (v INT); INSERT INTO t VALUES (1), (2)")
    decimal = wh.execute("SELECT AVG(v) FROM airlines.t")
    integer = wh.execute("SELECT AVG(v) FROM t")
    assert (decimal.rows, decimal.type_names) == ([(Decimal("1.50"),)], ["numeric"])
    assert (integer.rows, integer.type_names) == ([(1,)], ["int8"])
    aliased = wh.execute("SELECT AVG(a.v), AVG(p.v) FROM airlines.t a CROSS JOIN t p")
    assert (aliased.rows, aliased.type_names) == ([(Decimal("1.50"), 1)], ["numeric", "int8"])
    assert wh.execute("SET search_path TO airlines; SELECT AVG(v) FROM t").rows == [(Decimal("1.50"),)]
    shadowing = "WITH t AS (SELECT v FROM airlines.t) SELECT AVG(v), (SELECT AVG(x.v) FROM t x) FROM t"
    assert wh.execute(shadowing).rows == [(Decimal("1.50"), Decimal("1.50"))]
    temporary = wh.execute("CREATE TEMP TABLE t (v DECIMAL(5,1)); INSERT INTO t VALUES (1.0), (2.0); "
                           "SELECT AVG(v) FROM t")
    assert temporary.rows == [(Decimal("1.5"),)]


def test_an_identity_column_is_looked_up_in_the_table_the_insert_names(wh):
    # Redshift resolves an unqualified name by the search path (doc "search_path"): the IDENTITY column of
    # a same-named table in another schema does not apply, while an unqualified INSERT into the table itself
    # is refused (doc "CREATE TABLE": IDENTITY, "cannot set an identity column to a value").
    wh.execute("CREATE SCHEMA airlines")
    wh.execute('CREATE TABLE airlines."Fact Table" (id BIGINT IDENTITY(1,1), v INT)')
    wh.execute('CREATE TABLE "Fact Table" (id BIGINT, v INT)')
    wh.execute('INSERT INTO "Fact Table" (id, v) VALUES (7, 1)')
    assert rows(wh, 'SELECT id, v FROM "Fact Table"') == [(7, 1)]
    with pytest.raises(EngineError, match="cannot set an identity column to a value"):
        wh.execute('INSERT INTO airlines."Fact Table" (id, v) VALUES (7, 1)')
    with pytest.raises(EngineError, match="cannot set an identity column to a value"):
        wh.execute('SET search_path TO airlines; INSERT INTO "Fact Table" (id, v) VALUES (7, 1)')
