"""The conda environment and the pip requirements must list the same packages at the same versions."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def normalise(requirement: str) -> str:
    return re.sub(r"\s+", "", requirement).lower()


def local_distributions(pip_section: list[str]) -> dict[str, str]:
    """The distributions environment.yml installs from this repository (`-e ./folder`): name -> folder."""
    folders = [line.split("#")[0].removeprefix("-e").strip() for line in pip_section if line.startswith("-e")]
    return {tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]["name"]: folder
            for folder in folders}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    local = local_distributions(pip_section)
    # A dependency built in this repository (the job's library) is installed from its folder, not an index.
    pip_side = {normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
                if normalise(r) not in local}
    conda_side = {normalise(r) for r in pip_section if not r.startswith("-e")}
    assert conda_side == pip_side
    # Nothing built in this repository is a dependency by name: an index could serve another package under it.
    assert not {normalise(r) for r in project["dependencies"]} & local.keys()


def test_make_setup_installs_every_local_distribution():
    """`make setup` and environment.yml install the same folders."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    setup_line = next(line for line in (ROOT / "Makefile").read_text().splitlines() if "pip install" in line
                      and "-e ." in line.replace('"', ""))
    for folder in local_distributions(pip_section).values():
        assert f"-e {folder}" in setup_line.replace('"', "").replace("[dev]", ""), folder


def test_the_core_does_not_depend_on_the_emulator():
    """`--target aws` users install neither moto nor DuckDB nor sqlglot: only the emulator pins them."""
    core = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    emulator = tomllib.loads((ROOT / "emulator" / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("moto", "duckdb", "sqlglot"):
        assert not any(re.match(rf"{name}\b", d) for d in core), name
        assert any(re.fullmatch(rf"{name}(\[server\])?==[\d.]+", d) for d in emulator), name


def test_the_core_imports_and_renders_the_state_machine_without_the_emulator():
    """A `--target aws` install has no emulator: every core module imports and the definition renders."""
    script = """
import importlib.abc, sys
class NoEmulator(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"moto", "duckdb", "sqlglot", "flightpipe_local"}:
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NoEmulator())
import pkgutil, importlib, flightpipe
from flightpipe import statemachine
for module in pkgutil.iter_modules(flightpipe.__path__):
    if module.name not in {"notebook_outputs", "demo"}:  # developer tools that start a local stack
        importlib.import_module(f"flightpipe.{module.name}")
names = statemachine.placeholders()
print(len(statemachine.render({name: "x" for name in names})))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 1000
