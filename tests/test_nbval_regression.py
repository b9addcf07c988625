"""nbval really guards the notebooks: a stored output that no longer matches a fresh run fails."""

import subprocess
import sys

import nbformat

from flightpipe.runbook import NOTEBOOKS

SANITIZE = NOTEBOOKS / "sanitize.cfg"


def run_nbval(notebook_path, cwd):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "flightpipe_local.pytest_plugin",
         "--nbval", str(notebook_path), "--nbval-sanitize-with", str(SANITIZE)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def test_a_changed_computed_output_fails_and_the_stored_one_passes(tmp_path):
    notebook = nbformat.read(NOTEBOOKS / "00_overview.ipynb", as_version=4)
    path = tmp_path / "00_overview.ipynb"
    nbformat.write(notebook, path)
    stored = run_nbval(path, tmp_path)
    assert stored.returncode == 0, stored.stdout[-3000:]

    last_output = [c for c in notebook.cells if c.get("outputs")][-1].outputs[0]
    assert "buckets of this project" in last_output["text"]
    last_output["text"] = last_output["text"].replace("[]", "['someone-elses-bucket']")
    nbformat.write(notebook, path)
    changed = run_nbval(path, tmp_path)
    assert changed.returncode != 0
    assert "someone-elses-bucket" in changed.stdout
