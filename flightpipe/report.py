"""The HTML report of one runbook run: the summary first, then every notebook's narrative and outputs, no code.

    Summary       what ran (each notebook, its parameters, its time, its check), for which days, the data
                  checks, the charts
    Contents      a link per notebook
    1 · NN_name   each executed notebook under a heading that names it and its parameters; long outputs
                  (IAM policy documents, big tables) are folded
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

FOLD_AFTER_LINES = 12  # longer text outputs are folded behind a "show N lines" toggle
DATA_CHECKS_CELL = "20-04"  # notebook 20's table of data checks: one row per check, pass or FAIL
CHECK_MARKER = "**Check**"  # a markdown cell starting so introduces the cell that proves a notebook's work
CHECK_CHARS = 100  # the summary shows this much of each check's line


@dataclass(frozen=True)
class Step:
    notebook: str
    parameters: dict
    seconds: float
    path: Path  # the executed notebook
    failed: bool = False


def write_report(name: str, steps: list[Step], path: Path) -> Path:
    """Write the report of runbook `name` to `path` and return it."""
    executed = [nbformat.read(step.path, as_version=4) for step in steps]
    report = nbformat.v4.new_notebook()
    report.cells = summary_cells(name, path.parent.name, steps, executed) + contents_cells(steps)
    for number, (step, notebook) in enumerate(zip(steps, executed, strict=True), start=1):
        report.cells.append(nbformat.v4.new_markdown_cell(f'<a id="step-{number}"></a>\n\n'
                                                          f"## {number} · {title(step)}"))
        for cell in notebook.cells:
            if "injected-parameters" in cell.metadata.get("tags", []):
                continue  # the heading names the parameters
            report.cells.append(_renumbered(_folded(_demoted(cell)), number))
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(report, resources={"metadata": {"name": f"{name} — {path.parent.name}"}})
    path.write_text(body)
    return path


def title(step: Step) -> str:
    given = ", ".join(f"{k}={v}" for k, v in step.parameters.items() if k != "progress")
    return f"{step.notebook}" + (f" ({given})" if given else "")


def days_of(steps: list[Step]) -> list[str]:
    """The days the run was about: every `run_date`, and `start_date … end_date` ranges, in order, once each."""
    days: list[str] = []
    for step in steps:
        p = step.parameters
        found = [str(p["run_date"])] if p.get("run_date") else []
        if p.get("start_date") or p.get("end_date"):
            found.append(f"{p.get('start_date') or 'first'} … {p.get('end_date') or 'last'}")
        days += [d for d in found if d not in days]
    return days


def check_line(notebook) -> str:
    """What the notebook's check cell printed (the cell after the `**Check**` markdown): its first line,
    shortened; tables it displays stay in the notebook's section."""
    cells = notebook.cells
    for index, cell in enumerate(cells[:-1]):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith(CHECK_MARKER):
            printed = "".join(o.get("text", "") for o in cells[index + 1].get("outputs", [])
                              if o.get("output_type") == "stream").strip()
            first = printed.splitlines()[0] if printed else ""
            return first if len(first) <= CHECK_CHARS else first[:CHECK_CHARS - 1] + "…"
    return ""


def summary_cells(name: str, run: str, steps: list[Step], executed: list) -> list:
    failed = [s.notebook for s in steps if s.failed]
    verdict = f"**FAILED** in `{failed[0]}`" if failed else "succeeded"
    total = sum(s.seconds for s in steps)
    rows = ["| # | notebook | parameters | time | check |", "|---:|---|---|---:|---|"]
    for number, (step, notebook) in enumerate(zip(steps, executed, strict=True), start=1):
        given = ", ".join(f"`{k}={v}`" for k, v in step.parameters.items() if k != "progress")
        check = "**FAILED**" if step.failed else html.escape(check_line(notebook))
        rows.append(f"| {number} | [{step.notebook}](#step-{number}) | {given} | {step.seconds:.1f}&nbsp;s | {check} |")
    days = days_of(steps)
    text = [
        f"# Runbook `{name}` — {run}",
        "",
        f"The runbook {verdict}: {len(steps)} notebook(s) in {total:.0f} s"
        + (f", for {', '.join(days)}." if days else "."),
        "",
        "## Summary",
        "",
        *rows,
    ]
    cells = [nbformat.v4.new_markdown_cell("\n".join(text))]
    checks = [c for nb in executed for c in nb.cells if c.get("id") == DATA_CHECKS_CELL and c.get("outputs")]
    if checks:
        cells.append(nbformat.v4.new_markdown_cell("### Data checks"))
        cells.append(_output_only(checks[-1], "checks"))
    charts = [c for nb in executed for c in nb.cells if _has_image(c)]
    if charts:
        cells.append(nbformat.v4.new_markdown_cell("### Charts"))
        cells += [_output_only(c, f"chart-{i}", images_only=True) for i, c in enumerate(charts)]
    return cells


def contents_cells(steps: list[Step]) -> list:
    items = [f"{n}. [{title(s)}](#step-{n})" for n, s in enumerate(steps, start=1)]
    return [nbformat.v4.new_markdown_cell("## Contents\n\n" + "\n".join(items))]


# ---------------------------------------------------------------- cell rewriting
def _has_image(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def _output_only(cell, cell_id: str, images_only: bool = False):
    copy = nbformat.v4.new_code_cell("", id=f"summary-{cell_id}")
    copy.outputs = [o for o in cell.outputs if not images_only or "image/png" in o.get("data", {})]
    return copy


def _demoted(cell):
    """Notebook headings go two levels down, under the report's `## N · notebook` heading."""
    if cell.cell_type != "markdown":
        return cell
    copy = nbformat.from_dict(cell)
    copy.source = re.sub(r"^(#{1,4}) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", cell.source, flags=re.M)
    return copy


def _folded(cell):
    """Text outputs longer than FOLD_AFTER_LINES lines go behind a <details> toggle."""
    if cell.cell_type != "code":
        return cell
    copy = nbformat.from_dict(cell)
    outputs = []
    for output in cell.get("outputs", []):
        text = output.get("text") if output.get("output_type") == "stream" else None
        if text is None and set(output.get("data", {})) == {"text/plain"}:
            text = output["data"]["text/plain"]
        lines = len(text.splitlines()) if text else 0
        if lines > FOLD_AFTER_LINES:
            folded = (f"<details><summary>show {lines} lines of output</summary>"
                      f"<pre>{html.escape(text)}</pre></details>")
            outputs.append(nbformat.v4.new_output("display_data", data={"text/html": folded}))
        else:
            outputs.append(output)
    copy.outputs = outputs
    return copy


def _renumbered(cell, number: int):
    copy = nbformat.from_dict(cell)
    copy["id"] = f"{number:02d}-{cell.get('id', 'cell')}"  # the same notebook may run twice in one runbook
    return copy
