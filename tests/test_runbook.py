"""The papermill runner: parameters reach the right notebooks, outputs and a report are written, failures are named."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from flightpipe import runbook


def write_notebook(path, params_source, body):
    nb = new_notebook(cells=[new_markdown_cell("# test"), new_code_cell(params_source), new_code_cell(body)])
    nb.cells[1].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path, monkeypatch):
    notebooks, runbooks = tmp_path / "notebooks", tmp_path / "runbooks"
    notebooks.mkdir()
    runbooks.mkdir()
    write_notebook(notebooks / "01_greet.ipynb", 'who = "nobody"\ntimes = 1\nprogress = True',
                   'print(f"hello {who} x{times * 2}, progress bars: {progress}")')
    write_notebook(notebooks / "02_fail.ipynb", "fail = False", 'assert not fail, "asked to fail"\nprint("fine")')
    (runbooks / "ok.yaml").write_text(
        "notebooks:\n  - 01_greet.ipynb\n  - notebook: 01_greet.ipynb\n    parameters: {who: pinned}\n"
    )
    (runbooks / "bad.yaml").write_text("notebooks:\n  - 01_greet.ipynb\n  - 02_fail.ipynb\n")
    monkeypatch.setattr(runbook, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(runbook, "RUNBOOKS", runbooks)
    return tmp_path


def outputs(path):
    return "".join(o.get("text", "") for c in nbformat.read(path, as_version=4).cells for o in c.get("outputs", []))


def test_parameters_outputs_and_report(project):
    report = runbook.run_runbook("ok", {"who": "world", "times": "21"}, out_dir=project / "run")
    assert "hello world x42, progress bars: False" in outputs(project / "run" / "01-01_greet.ipynb")  # "21": an int
    assert "hello pinned x42" in outputs(project / "run" / "02-01_greet.ipynb")  # pinned by the runbook step
    html = report.read_text()
    assert "hello world x42" in html and "print(f" not in html  # outputs, no code


def test_failure_names_notebook_and_cell(project):
    with pytest.raises(runbook.RunbookFailed, match=r"02_fail\.ipynb, cell \d+ \(AssertionError: asked to fail\)"):
        runbook.run_runbook("bad", {"fail": "True"}, out_dir=project / "run")


def test_unknown_parameter_is_refused(project):
    with pytest.raises(runbook.RunbookFailed, match="colour"):
        runbook.run_runbook("ok", {"colour": "red"}, out_dir=project / "run")
