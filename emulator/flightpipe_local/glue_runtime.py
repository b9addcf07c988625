"""Glue's Python shell runtime on the local stack: Python 3.9 with the analytics library set's versions.

On AWS a Python shell job with `"PythonVersion": "3.9"` and `library-set: analytics` runs on Python 3.9 with the
libraries of AWS's page "Configuring job properties for Python shell jobs" (section "Supported libraries"), pinned in
`glue_runtimes/python3.9-analytics.txt`. The local stack runs job scripts in a virtual environment of exactly those
versions, so a script that needs a newer pandas or pyarrow fails here as it would on AWS.

Which interpreter runs job scripts:
1. `FLIGHTPIPE_GLUE_PYTHON=/path/to/python`, used as it is (nothing is built);
2. else the runtime venv, built once per machine from a Python 3.9 (PATH, pyenv, known locations) and cached outside
   any stack's state folder, in `${XDG_CACHE_HOME:-~/.cache}/flightpipe-local/glue-runtime/<hash>/` (hash of the
   list and the interpreter's version): built in a temporary folder and renamed into place, under a file lock, so
   two processes never build it at once and nobody sees half a venv;
3. else, where no Python 3.9 exists, the stack's own interpreter, with a warning in the stack's log and in every
   job run's log.

`python -m flightpipe_local.glue_runtime [--with-pytest]` builds it ahead of time and prints what jobs will run on.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import glob
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("flightpipe_local.glue_runtime")

REQUIREMENTS = Path(__file__).resolve().parent / "glue_runtimes" / "python3.9-analytics.txt"
PYTHON_VERSION = "3.9"
OVERRIDE_ENV = "FLIGHTPIPE_GLUE_PYTHON"
# pytest for running the job's unit tests on the runtime; installed beside it, never into it.
TEST_TOOLS = ("pytest>=8,<9",)
KNOWN_LOCATIONS = (
    "~/.pyenv/versions/3.9*/bin/python3.9",
    "/root/.pyenv/versions/3.9*/bin/python3.9",
    "/usr/local/bin/python3.9",
    "/usr/bin/python3.9",
    "/opt/python*/bin/python3.9",
)
# The libraries named in a job run's first log line.
LOGGED_LIBRARIES = ("pandas", "pyarrow", "numpy", "boto3", "awswrangler")
_VERSIONS_SCRIPT = (
    "import json, platform, sys\n"
    "from importlib import metadata\n"
    "def version(name):\n"
    "    try:\n"
    "        return metadata.version(name)\n"
    "    except metadata.PackageNotFoundError:\n"
    "        return 'not installed'\n"
    f"print(json.dumps({{'python': platform.python_version(), 'libraries': "
    f"{{n: version(n) for n in {LOGGED_LIBRARIES!r}}}}}))\n"
)


class RuntimeBuildFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Runtime:
    python: str  # the interpreter that runs job scripts
    banner: str  # the first line of every job run's log: the Python and library versions
    warning: str | None = None  # set when jobs do not run on Glue's runtime


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "flightpipe-local" / "glue-runtime"


def python_version(python: str) -> str:
    out = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def find_python39() -> str | None:
    """A Python 3.9 interpreter: on PATH, through pyenv, or in a known location."""
    candidates = [shutil.which(f"python{PYTHON_VERSION}")]
    if shutil.which("pyenv"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30).stdout.strip()
            candidates += sorted(glob.glob(f"{root}/versions/{PYTHON_VERSION}*/bin/python{PYTHON_VERSION}"))
    for pattern in KNOWN_LOCATIONS:
        candidates += sorted(glob.glob(os.path.expanduser(pattern)))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                if python_version(candidate).startswith(PYTHON_VERSION + "."):
                    return candidate
    return None


def runtime_dir(python: str) -> Path:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + python_version(python).encode()).hexdigest()[:16]
    return cache_root() / f"python{PYTHON_VERSION}-analytics-{digest}"


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_once(final: Path, build) -> Path:
    """Run `build(tmp)` unless `final` exists; the result appears at `final` whole or not at all."""
    if (final / ".complete").exists():
        return final
    with _locked(final.with_name(final.name + ".lock")):
        if (final / ".complete").exists():  # another process built it while we waited
            return final
        for stale in final.parent.glob(f"{final.name}.building-*"):  # left by a builder that was killed
            shutil.rmtree(stale, ignore_errors=True)
        tmp = final.with_name(f"{final.name}.building-{os.getpid()}")
        started = time.monotonic()
        try:
            build(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        (tmp / ".complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)  # a venv run as <dir>/bin/python -m … works from its new place
        log.info("Glue runtime built in %s in %.0f s", final, time.monotonic() - started)
    return final


def _pip(python: Path | str, *args: str) -> None:
    result = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                             "--no-input", *args], capture_output=True, text=True)
    if result.returncode:
        lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")] or \
            result.stderr.splitlines()[-3:]
        raise RuntimeBuildFailed("building Glue's Python 3.9 runtime failed: " + " ".join(lines)[-600:])


def build_runtime(python: str) -> Path:
    """The runtime venv for `python` (a Python 3.9), built if missing; returns its folder."""

    def build(tmp: Path) -> None:
        subprocess.run([python, "-m", "venv", str(tmp)], check=True, capture_output=True, timeout=300)
        log.warning("building Glue's Python 3.9 runtime (%s) in %s: once per machine, a few minutes",
                    REQUIREMENTS.name, tmp.parent)
        _pip(tmp / "bin" / "python", "-r", str(REQUIREMENTS))

    return _build_once(runtime_dir(python), build)


def build_test_tools(runtime: Path) -> Path:
    """pytest for the runtime, in a folder of its own (put it on PYTHONPATH): the runtime stays as Glue's."""
    return _build_once(runtime.with_name(runtime.name + "-test-tools"),
                       lambda tmp: _pip(runtime / "bin" / "python", "--target", str(tmp), *TEST_TOOLS))


def describe(python: str) -> dict:
    out = subprocess.run([python, "-c", _VERSIONS_SCRIPT], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout)


def banner(python: str, note: str = "") -> str:
    found = describe(python)
    libraries = ", ".join(f"{name} {version}" for name, version in found["libraries"].items())
    return f"Glue runtime: Python {found['python']} ({python}); {libraries}" + (f". {note}" if note else "")


_resolved: Runtime | None = None
_resolve_lock = threading.Lock()


def resolve() -> Runtime:
    """The runtime job scripts run on (built on first use; later calls return the same)."""
    global _resolved
    with _resolve_lock:
        if _resolved is None:
            _resolved = _resolve()
        return _resolved


def _resolve() -> Runtime:
    override = os.environ.get(OVERRIDE_ENV)
    if override:
        python = shutil.which(override) or override
        if not os.access(python, os.X_OK):
            raise RuntimeBuildFailed(f"{OVERRIDE_ENV}={override!r} is not an executable Python")
        return Runtime(python, banner(python, f"Interpreter set by {OVERRIDE_ENV}"))
    python39 = find_python39()
    if python39 is None:
        warning = (f"No Python {PYTHON_VERSION} found (PATH, pyenv, {', '.join(KNOWN_LOCATIONS[:2])}): Glue jobs run "
                   f"on the stack's own Python {sys.version.split()[0]}, NOT on Glue's runtime. Install Python "
                   f"{PYTHON_VERSION} (e.g. `pyenv install 3.9`) or set {OVERRIDE_ENV}.")
        log.warning(warning)
        return Runtime(sys.executable, banner(sys.executable, "WARNING: " + warning), warning)
    venv = build_runtime(python39)
    python = str(venv / "bin" / "python")
    return Runtime(python, banner(python))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build Glue's Python 3.9 runtime for local job runs.")
    parser.add_argument("--with-pytest", action="store_true", help="also build pytest beside it (for job tests)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.monotonic()
    try:
        runtime = resolve()
        print(runtime.banner)
        if args.with_pytest and runtime.warning is None and not os.environ.get(OVERRIDE_ENV):
            print(f"pytest for it: {build_test_tools(Path(runtime.python).parents[1])}")
    except RuntimeBuildFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"ready in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
