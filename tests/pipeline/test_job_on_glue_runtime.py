"""The job's unit tests again, on Glue's runtime: Python 3.9 with the analytics library set's versions.

The runtime itself stays as Glue's; pytest comes from a folder beside it (glue_runtime.build_test_tools), and the
job's library from its built wheel, put on the path as a zip (so reading the SQL works from a zipped wheel too).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from flightpipe import job_wheel
from flightpipe_local import glue_runtime

ROOT = Path(__file__).resolve().parents[2]


def test_job_unit_tests_pass_on_glue_python_39_runtime():
    runtime = glue_runtime.resolve()
    if runtime.warning or os.environ.get(glue_runtime.OVERRIDE_ENV):
        if os.environ.get("CI"):
            pytest.fail(runtime.warning or f"{glue_runtime.OVERRIDE_ENV} is set: not Glue's runtime")
        pytest.skip(runtime.warning or f"{glue_runtime.OVERRIDE_ENV} is set: not Glue's runtime")
    venv = Path(runtime.python).parents[1]
    tools = glue_runtime.build_test_tools(venv)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
    wheel = job_wheel.build()
    env["PYTHONPATH"] = os.pathsep.join([str(tools), str(wheel)])
    imported = subprocess.run([runtime.python, "-c", "import flightpipe_job.sql as m; print(m.__file__)"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert imported.stdout.strip() == str(wheel / "flightpipe_job" / "sql.py"), imported.stderr
    result = subprocess.run(
        [runtime.python, "-m", "pytest", "--noconftest", "-p", "no:cacheprovider", "-q",
         "tests/pipeline/job"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, f"{runtime.banner}\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
    assert " passed" in result.stdout.splitlines()[-1] and "failed" not in result.stdout.splitlines()[-1]
    versions = subprocess.run([runtime.python, "-c", "import pandas, pyarrow, sys; print(sys.version_info[:2], "
                               "pandas.__version__, pyarrow.__version__)"], capture_output=True, text=True, env=env)
    assert versions.stdout.strip() == "(3, 9) 1.4.2 7.0.0"
