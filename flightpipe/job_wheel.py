"""The Glue job's library as a wheel: glue_job/ (its code; the repository's sql/ and the job's Data API model as
package data), built with pip and cached by content, so provisioning uploads the same file until they change.

A Python shell 3.9 job takes its own libraries as `.whl` files listed in `--extra-py-files` (AWS Glue Developer
Guide, "Configuring job properties for Python shell jobs in AWS Glue", sections "Limitations" — no `.egg` on
Python 3.9, use `.whl` — and "Providing your own Python library").
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOURCE = PROJECT_ROOT / "glue_job"
PACKAGE = SOURCE / "flightpipe_job"
# Fixed zip timestamps (wheel honours SOURCE_DATE_EPOCH): the same sources give the same bytes, so the same ETag.
SOURCE_DATE_EPOCH = "315532800"  # 1980-01-01, the earliest date a zip can hold


class WheelBuildFailed(RuntimeError):
    pass


def wheel_name() -> str:
    """The wheel's file name, `<name>-<version>-py3-none-any.whl` (a pure-Python wheel)."""
    project = tomllib.loads((SOURCE / "pyproject.toml").read_text())["project"]
    return f"{project['name'].replace('-', '_')}-{project['version']}-py3-none-any.whl"


def sources() -> list[Path]:
    """Every file the wheel is built from (sql/ through the package's link to it)."""
    files = [SOURCE / "pyproject.toml", *PACKAGE.rglob("*.py"), *(PACKAGE / "sql").rglob("*.sql"),
             *(PACKAGE / "models").rglob("*.*")]
    return sorted(f for f in files if "__pycache__" not in f.parts)


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sources():
        digest.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "flightpipe" / "job-wheel"


def build() -> Path:
    """The job's wheel for the current sources: built once (about 20 s with a warm pip cache), then reused."""
    folder = cache_root() / source_digest()[:16]
    wheel = folder / wheel_name()
    if wheel.exists():
        return wheel
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One build at a time on this machine, whatever the cache: pip builds inside glue_job/ (its build/ folder).
    with open(Path(tempfile.gettempdir()) / "flightpipe-job-wheel.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if wheel.exists():
            return wheel
        tmp = folder.with_name(f"{folder.name}.building-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            _pip_wheel(tmp)
            built = sorted(p.name for p in tmp.glob("*.whl"))
            if built != [wheel.name]:
                raise WheelBuildFailed(f"building {SOURCE} gave {built}, expected {wheel.name}")
            shutil.rmtree(folder, ignore_errors=True)
            os.rename(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                shutil.rmtree(SOURCE / "build")  # pip's work folder; the wheel is in the cache
    return wheel


def _pip_wheel(out: Path) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check", "--no-input",
         "--wheel-dir", str(out), str(SOURCE)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    if done.returncode:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or done.stderr.splitlines()
        raise WheelBuildFailed(f"building the job's wheel from {SOURCE} failed: {' '.join(errors[-3:])[-600:]}\n"
                               "Run `make setup` (pip needs setuptools>=68 from its index or cache) and retry.")


if __name__ == "__main__":
    print(build())
