"""The job library's SQL access and the project's statement splitter (flightpipe_job.sql).

Like the other tests in this folder it also runs on Glue's runtime (Python 3.9), there with flightpipe_job imported from
the built wheel as a zip on sys.path: no conftest, Python 3.9 syntax.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flightpipe_job import sql

ROOT = Path(__file__).resolve().parents[3]
SQL_FILES = sorted(str(p.relative_to(ROOT / "sql")) for p in (ROOT / "sql").rglob("*.sql"))


def test_every_statement_file_of_sql_folder_is_package_data():
    assert SQL_FILES and sql.names() == SQL_FILES


@pytest.mark.parametrize("name", SQL_FILES)
def test_a_statement_file_reads_as_the_file_in_sql_folder(name):
    assert sql.text(name) == (ROOT / "sql" / name).read_text(encoding="utf-8")


def test_a_missing_statement_file_is_named():
    with pytest.raises(FileNotFoundError, match="sql/no_such.sql"):
        sql.text("no_such.sql")


def test_statements_split_on_semicolons_at_line_ends_and_comment_lines_are_dropped():
    script = (
        "-- a header comment; with a semicolon\n"
        "CREATE TABLE t (a INT);\n"
        "\n"
        "INSERT INTO t\n"
        "  -- why this row\n"
        "  SELECT ';' || 'x';   \n"
        "-- a closing comment only;\n"
        "SELECT 1"
    )
    assert sql.split_statements(script) == [
        "CREATE TABLE t (a INT)",
        "INSERT INTO t\n  SELECT ';' || 'x'",
        "SELECT 1",
    ]


def test_a_script_of_comments_and_blank_lines_has_no_statements():
    assert sql.split_statements("-- nothing;\n\n  ;\n") == []


def test_the_load_script_splits_into_its_statements():
    statements = sql.split_statements(sql.text("load_days.sql"))
    assert all(not s.endswith(";") and not s.startswith("--") for s in statements)
    # sql/load_days.sql's own statements, counted from the file: every `;` that ends a line ends one.
    text = (ROOT / "sql" / "load_days.sql").read_text()
    ends = [line for line in text.splitlines() if line.rstrip().endswith(";") and not line.strip().startswith("--")]
    assert len(statements) == len(ends)
