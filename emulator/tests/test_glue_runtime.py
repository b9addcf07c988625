"""Glue's Python runtime for local job runs: which interpreter, the versions line, building it once."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from flightpipe_local import glue_runtime

ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_list_pins_glue_versions_and_the_job_sees_it():
    pins = dict(
        line.split("==") for line in glue_runtime.REQUIREMENTS.read_text().splitlines()
        if line and not line.startswith("#")
    )
    # AWS Glue, "Configuring job properties for Python shell jobs", Supported libraries, Python 3.9.
    assert {k: pins[k] for k in ("pandas", "numpy", "boto3", "awswrangler", "scikit-learn")} == {
        "pandas": "1.4.2", "numpy": "1.22.3", "boto3": "1.22.5", "awswrangler": "2.15.1", "scikit-learn": "1.0.2"}
    assert pins["pyarrow"] == "7.0.0" and "pytest" not in pins
    link = ROOT / "glue_job" / "requirements-glue.txt"
    assert link.is_symlink() and link.resolve() == glue_runtime.REQUIREMENTS


def test_the_override_is_used_as_it_is(monkeypatch):
    monkeypatch.setenv(glue_runtime.OVERRIDE_ENV, sys.executable)
    runtime = glue_runtime._resolve()
    assert runtime.python == sys.executable and runtime.warning is None
    assert runtime.banner.startswith(f"Glue runtime: Python {sys.version.split()[0]} ({sys.executable}); pandas ")
    assert glue_runtime.OVERRIDE_ENV in runtime.banner


def test_without_python_39_jobs_run_on_the_stacks_python_and_say_so(monkeypatch, caplog):
    monkeypatch.delenv(glue_runtime.OVERRIDE_ENV, raising=False)
    monkeypatch.setattr(glue_runtime, "find_python39", lambda: None)
    runtime = glue_runtime._resolve()
    assert runtime.python == sys.executable
    assert "No Python 3.9 found" in runtime.warning and "WARNING: No Python 3.9 found" in runtime.banner
    assert "No Python 3.9 found" in caplog.text


def test_a_runtime_is_built_once_whole_or_not_at_all(tmp_path):
    calls = []
    gate = threading.Event()

    def build(tmp: Path) -> None:
        calls.append(tmp)
        gate.wait(5)
        tmp.mkdir()
        (tmp / "bin").mkdir()

    final = tmp_path / "runtime"
    (tmp_path / "runtime.building-99999").mkdir()  # a builder killed half-way
    threads = [threading.Thread(target=glue_runtime._build_once, args=(final, build)) for _ in range(3)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and (final / "bin").is_dir() and (final / ".complete").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runtime", "runtime.lock"]

    def broken(tmp: Path) -> None:
        tmp.mkdir()
        raise glue_runtime.RuntimeBuildFailed("pip said no")

    with pytest.raises(glue_runtime.RuntimeBuildFailed):
        glue_runtime._build_once(tmp_path / "other", broken)
    assert not (tmp_path / "other").exists() and not list(tmp_path.glob("other.building-*"))


def test_the_cache_lives_outside_any_state_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert glue_runtime.cache_root() == tmp_path / "flightpipe-local" / "glue-runtime"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert glue_runtime.cache_root() == Path.home() / ".cache" / "flightpipe-local" / "glue-runtime"
