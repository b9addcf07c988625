"""`flightpipe run <runbook>`: execute a runbook's notebooks headless with papermill.

A runbook (`runbooks/<name>.yaml`) lists notebooks in order. Each run gets its own folder
`runs/<UTC timestamp>-<runbook>/` holding one executed notebook per input notebook (the run's log: the input plus
its parameters is an immutable record) and one HTML report without the code cells.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import nbformat
import papermill
import yaml
from nbconvert import HTMLExporter

from flightpipe.config import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"
RUNBOOKS = PROJECT_ROOT / "runbooks"
CELL_TIMEOUT_SECONDS = 1800


class RunbookFailed(RuntimeError):
    pass


def runs_dir() -> Path:
    return Path(os.environ.get("FLIGHTPIPE_RUNS", PROJECT_ROOT / "runs"))


def load_runbook(name: str) -> list[tuple[str, dict]]:
    """The runbook's steps: (notebook, fixed parameters). A step is a notebook name, or
    `{notebook: NAME, parameters: {...}}` when the runbook pins some parameters for that step."""
    path = RUNBOOKS / f"{name}.yaml"
    if not path.exists():
        raise RunbookFailed(f"no runbook {name!r}: expected {path}")
    steps = []
    for step in yaml.safe_load(path.read_text())["notebooks"]:
        if isinstance(step, str):
            steps.append((step, {}))
        else:
            steps.append((step["notebook"], dict(step.get("parameters", {}))))
    return steps


def notebook_parameters(path: Path) -> set[str]:
    """The names declared in the notebook's `parameters` cell."""
    return set(papermill.inspect_notebook(str(path)))


def run_runbook(name: str, parameters: dict[str, str], out_dir: Path | None = None) -> Path:
    """Execute every notebook of runbook `name`; return the HTML report's path.

    Each notebook receives the parameters it declares (papermill casts "2013-01-01" etc. as given; numbers
    passed on the command line arrive as strings and are converted by the notebook where needed).
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out_dir or runs_dir() / f"{stamp}-{name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = load_runbook(name)
    declared = {notebook: notebook_parameters(NOTEBOOKS / notebook) for notebook, _ in steps}
    unknown = set(parameters) - set().union(*declared.values())
    if unknown:
        raise RunbookFailed(f"runbook {name}: no notebook takes the parameter(s) {sorted(unknown)}")
    executed = []
    for index, (notebook, fixed) in enumerate(steps, start=1):
        given = {k: _typed(v) for k, v in parameters.items() if k in declared[notebook]}
        if "progress" in declared[notebook]:
            given.setdefault("progress", False)  # progress bars are for people watching JupyterLab, not logs
        output = out_dir / f"{index:02d}-{notebook}"
        try:
            papermill.execute_notebook(
                str(NOTEBOOKS / notebook),
                str(output),
                parameters={**given, **fixed},  # a step's pinned values are its identity
                cwd=str(NOTEBOOKS),
                kernel_name="python3",
                execution_timeout=CELL_TIMEOUT_SECONDS,
                progress_bar=False,
                log_output=False,
                report_mode=False,
            )
        except papermill.PapermillExecutionError as exc:
            raise RunbookFailed(
                f"runbook {name} failed in {notebook}, cell {exc.exec_count} ({exc.ename}: {exc.evalue}); "
                f"executed notebook: {output}"
            ) from None
        executed.append(output)
    return write_report(name, executed, out_dir / f"{name}-report.html")


def _typed(value):
    """Command-line values arrive as strings; give numbers and booleans their type."""
    if not isinstance(value, str):
        return value
    if value in ("True", "False"):
        return value == "True"
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return value


def write_report(name: str, notebooks: list[Path], path: Path) -> Path:
    """One HTML page with every notebook's narrative and outputs, no code."""
    report = nbformat.v4.new_notebook()
    report.cells.append(nbformat.v4.new_markdown_cell(f"# Runbook `{name}` — {path.parent.name}"))
    for number, notebook in enumerate(notebooks):
        for cell in nbformat.read(notebook, as_version=4).cells:
            cell["id"] = f"{number:02d}-{cell['id']}"  # the same notebook may run twice in one runbook
            report.cells.append(cell)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(report)
    path.write_text(html)
    return path
