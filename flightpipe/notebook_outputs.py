"""Refresh the outputs stored in notebooks/*.ipynb from a fresh `local` run (what nbval regresses against).

    python -m flightpipe.notebook_outputs            # all notebooks, in numbered order
    python -m flightpipe.notebook_outputs 10_daily_ingest.ipynb   # only some (the stack still runs them all
                                                                  # before it, so the state is the same)

Each notebook runs top to bottom with its default parameters, in its own kernel, in numbered order against one
fresh local stack — exactly what `pytest --nbval notebooks/` does afterwards.
"""

from __future__ import annotations

import sys

import nbformat
from nbclient import NotebookClient

from flightpipe.runbook import NOTEBOOKS
from flightpipe_local.session import LocalSession


def ordered_notebooks() -> list:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def execute(notebook) -> None:
    """Run every cell in a fresh kernel, in the notebooks folder, as nbval does."""
    resources = {"metadata": {"path": str(NOTEBOOKS)}}
    NotebookClient(notebook, timeout=1800, kernel_name="python3", resources=resources).execute()


def execute_in_place(path) -> None:
    notebook = nbformat.read(path, as_version=4)
    execute(notebook)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timings: noise in diffs
    nbformat.write(notebook, path)


def main(argv: list[str] | None = None) -> None:
    wanted = set(argv if argv is not None else sys.argv[1:])
    with LocalSession():
        for path in ordered_notebooks():
            if wanted and path.name not in wanted:
                execute(nbformat.read(path, as_version=4))
                print(f"ran     {path.name} (outputs kept)")
                continue
            execute_in_place(path)
            print(f"stored  {path.name}")


if __name__ == "__main__":
    main()
