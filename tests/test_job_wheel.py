"""The Glue job's wheel: what it holds, its name, and that it is built once per content."""

from __future__ import annotations

import re
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from flightpipe import job_wheel
from flightpipe.names import Names

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel() -> Path:
    return job_wheel.build()


def test_the_wheel_holds_every_sql_file_byte_identical(wheel):
    with zipfile.ZipFile(wheel) as whl:
        packaged = {n.removeprefix("flightpipe_job/sql/"): whl.read(n) for n in whl.namelist()
                    if n.startswith("flightpipe_job/sql/")}
    repository = {str(p.relative_to(ROOT / "sql")): p.read_bytes() for p in (ROOT / "sql").rglob("*.sql")}
    assert repository and packaged == repository


def test_the_wheel_holds_the_package_as_files_not_links(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        assert whl.read("flightpipe_job/sql.py") == (ROOT / "glue_job" / "flightpipe_job" / "sql.py").read_bytes()
    assert {n.split("/")[0] for n in names} == {"flightpipe_job", "flightpipe_job-0.1.0.dist-info"}


def test_the_wheel_needs_python_39_and_nothing_beyond_glue_libraries(wheel):
    with zipfile.ZipFile(wheel) as whl:
        metadata = Parser().parsestr(whl.read("flightpipe_job-0.1.0.dist-info/METADATA").decode())
        tags = Parser().parsestr(whl.read("flightpipe_job-0.1.0.dist-info/WHEEL").decode()).get_all("Tag")
    assert metadata["Requires-Python"] == ">=3.9"
    assert metadata.get_all("Requires-Dist") is None
    assert tags == ["py3-none-any"]


def test_the_uploaded_key_ends_with_the_wheel_file_name(wheel):
    # pip installs a wheel only under its own name: `<name>-<version>-<tags>.whl` (PEP 427 file name convention).
    assert Path(Names.derive("p", "us-east-1", "000000000000").job_wheel_key).name == wheel.name
    assert re.fullmatch(r"flightpipe_job-[\d.]+-py3-none-any\.whl", wheel.name)


def test_a_second_build_reuses_the_wheel(wheel, monkeypatch):
    def no_pip(out):
        raise AssertionError("rebuilt although nothing changed")

    monkeypatch.setattr(job_wheel, "_pip_wheel", no_pip)
    assert job_wheel.build() == wheel


def test_the_cache_key_covers_code_and_sql():
    covered = {str(p.relative_to(ROOT / "glue_job")) for p in job_wheel.sources()}
    assert {"pyproject.toml", "flightpipe_job/sql.py", "flightpipe_job/sql/load_days.sql",
            "flightpipe_job/sql/checks/fact_duplicates.sql"} <= covered


def test_a_fresh_build_gives_the_same_bytes(wheel, tmp_path, monkeypatch):
    """Fixed zip timestamps: rebuilding unchanged sources uploads an identical object."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    again = job_wheel.build()
    assert again != wheel and again.read_bytes() == wheel.read_bytes()


def test_the_job_script_holds_no_sql_and_no_splitter():
    script = (ROOT / "glue_job" / "daily_flights_etl.py").read_text()
    assert "@@SQL" not in script and "CREATE TEMP TABLE" not in script
    splitters = [p for p in [*ROOT.glob("flightpipe/*.py"), *ROOT.glob("glue_job/**/*.py"),
                             *ROOT.glob("emulator/flightpipe_local/**/*.py")]
                 if "def split_statements" in p.read_text()]
    assert splitters == [ROOT / "glue_job" / "flightpipe_job" / "sql.py"]
