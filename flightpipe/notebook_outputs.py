"""Refresh the outputs stored in notebooks/*.ipynb from a fresh `local` run (what nbval regresses against).

    python -m flightpipe.notebook_outputs            # all notebooks, in numbered order
    python -m flightpipe.notebook_outputs 10_daily_ingest.ipynb   # only some (the stack still runs them all
                                                                  # before it, so the state is the same)
    python -m flightpipe.notebook_outputs --metadata-only         # only normalise every notebook's metadata

Every notebook is written with the metadata JupyterLab itself writes (the kernelspec of the installed `python3`
kernel, the kernel's `language_info`), so opening one in JupyterLab does not mark it modified.
The operator's check (`30_check_day`) looks at a real day's upload: it is stored without outputs and not run here.

Each notebook runs top to bottom with its default parameters, in its own kernel, in numbered order against one
fresh local stack — exactly what `pytest --nbval notebooks/` does afterwards.
"""

from __future__ import annotations

import sys

import nbformat
from nbclient import NotebookClient

from flightpipe.kernels import kernel_config
from flightpipe.runbook import NOTEBOOKS

NOT_REGRESSED = {"30_check_day.ipynb"}  # needs a day an upstream system delivered: no stored outputs


def ordered_notebooks() -> list:
    return [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) if p.name not in NOT_REGRESSED]


def jupyterlab_metadata() -> dict:
    """The notebook metadata JupyterLab writes when it opens a notebook with the `python3` kernel: the kernelspec
    as installed (its display name is "Python 3 (ipykernel)") and the kernel's `language_info`."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {
        "kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": "python3"},
        "language_info": dict(IPythonKernel.language_info),
    }


def normalise_metadata(notebook) -> None:
    notebook.metadata.update(jupyterlab_metadata())
    notebook.nbformat, notebook.nbformat_minor = nbformat.current_nbformat, nbformat.current_nbformat_minor


def execute(notebook) -> None:
    """Run every cell in a fresh kernel, in the notebooks folder, as nbval does."""
    resources = {"metadata": {"path": str(NOTEBOOKS)}}
    NotebookClient(notebook, timeout=1800, kernel_name="python3", resources=resources, config=kernel_config()).execute()


def execute_in_place(path) -> None:
    notebook = nbformat.read(path, as_version=4)
    execute(notebook)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timings: noise in diffs
    normalise_metadata(notebook)
    nbformat.write(notebook, path)


def normalise_all() -> None:
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        normalise_metadata(notebook)
        nbformat.write(notebook, path)


def main(argv: list[str] | None = None) -> None:
    wanted = set(argv if argv is not None else sys.argv[1:])
    if "--metadata-only" in wanted:
        normalise_all()
        return
    from flightpipe_local.session import LocalSession

    normalise_all()  # the notebooks this run does not store too
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
