"""A local Glue job run's `--extra-py-files`: the job's own Python libraries, fetched from S3 for that run.

What Glue does (AWS Glue Developer Guide):
- "Using job parameters in AWS Glue jobs", `--extra-py-files`: "The Amazon S3 paths to additional Python modules
  that AWS Glue adds to the Python path before executing your script. Multiple values must be complete paths
  separated by a comma (,)."
- "Configuring job properties for Python shell jobs in AWS Glue", "Limitations": a Python shell 3.9 job cannot take
  `.egg` libraries ("Instead, use .whl"); "Providing your own Python library": `.whl` files in `--extra-py-files`,
  which Glue's Python shell installs with pip before the script starts.
- A listed object that does not exist fails the run before the script starts: the Python shell's launcher
  downloads each file with boto3 and fails with `botocore.exceptions.ClientError: An error occurred (404) when
  calling the HeadObject operation: Not Found` (the launcher's traceback in aws/aws-sdk-pandas#213).

Locally each object is copied from the stack's S3 into the run's folder; a `.whl` is installed with the runtime's pip
(`--no-deps --no-index --target`) into a folder cached by the wheel's SHA-256 and the interpreter, so a run imports
exactly the uploaded bytes without paying pip on every run; a `.zip` or `.py` goes on the path as it is. The run's
output log names each library (after the runtime's line). A wheel's own dependencies are not fetched: the local
stack has no package index, so a wheel that declares any fails the run saying so.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

from flightpipe_local import glue_runtime

ARGUMENT = "--extra-py-files"
NOT_FOUND = ("botocore.exceptions.ClientError: An error occurred (404) when calling the HeadObject operation: "
             "Not Found")


class LibraryFailed(RuntimeError):
    """The run fails before its script starts; `detail` goes to the run's error log."""

    def __init__(self, message: str, detail: str):
        super().__init__(message)
        self.detail = detail


@dataclass
class Libraries:
    paths: list[Path] = field(default_factory=list)  # for the script's PYTHONPATH, in the order listed
    log_lines: list[str] = field(default_factory=list)  # for the run's output log, after the runtime's line


def locations(arguments: dict[str, str]) -> list[str]:
    return [part.strip() for part in (arguments.get(ARGUMENT) or "").split(",") if part.strip()]


def prepare(arguments: dict[str, str], read_object: Callable[[str, str], bytes | None], run_dir: Path,
            python: str) -> Libraries:
    """Fetch and install every `--extra-py-files` object; `read_object(bucket, key)` is None for a missing one."""
    libraries = Libraries()
    for location in locations(arguments):
        if not location.startswith("s3://"):
            raise LibraryFailed(f"{ARGUMENT} path {location!r} is not an s3:// URI",
                                f"{ARGUMENT}: {location!r} is not an s3:// URI (give s3://bucket/key)")
        bucket, _, key = location.removeprefix("s3://").partition("/")
        body = read_object(bucket, key) if key else None
        if body is None:
            raise LibraryFailed(NOT_FOUND, f"{ARGUMENT}: no object at {location}: upload it or fix the job's "
                                           f"DefaultArguments")
        name = Path(key).name
        target = run_dir / "glue-python-libs" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        digest = hashlib.sha256(body).hexdigest()
        if name.endswith(".whl"):
            libraries.paths.append(_installed(target, digest, python))
            libraries.log_lines.append(f"{ARGUMENT}: installed {name} from {location} (sha256 {digest})")
        elif name.endswith((".zip", ".py")):
            libraries.paths.append(target if name.endswith(".zip") else target.parent)
            libraries.log_lines.append(f"{ARGUMENT}: added {name} from {location} to the path (sha256 {digest})")
        elif name.endswith(".egg"):
            raise LibraryFailed(f"{ARGUMENT}: {name}: Python shell 3.9 jobs take no .egg libraries; use .whl",
                                f"{ARGUMENT}: {location}: .egg is not supported on Python 3.9+ (AWS Glue, "
                                "'Configuring job properties for Python shell jobs', Limitations); build a .whl")
        else:
            raise LibraryFailed(f"{ARGUMENT}: {name} is not a .whl, .zip or .py file",
                                f"{ARGUMENT}: {location}: give a .whl (or a .zip / .py) file")
    return libraries


def _installed(wheel: Path, digest: str, python: str) -> Path:
    """The folder `wheel` is installed in for `python`: installed once per wheel content and interpreter."""
    requires = _requirements(wheel)
    if requires:
        raise LibraryFailed(f"{ARGUMENT}: {wheel.name} requires {', '.join(requires)}: the local Glue installs no "
                            "dependencies of a wheel",
                            f"{ARGUMENT}: {wheel.name} declares Requires-Dist {requires}; the local stack has no "
                            "package index: ship a wheel without dependencies (or list them in --extra-py-files)")
    final = glue_runtime.cache_root().with_name("glue-libs") / f"{wheel.name}-{digest[:20]}-{_interpreter(python)}"

    def install(tmp: Path) -> None:
        done = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
                               "--no-deps", "--no-index", "--target", str(tmp), str(wheel)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode:
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or \
                done.stderr.splitlines()[-3:]
            raise LibraryFailed(f"{ARGUMENT}: pip could not install {wheel.name}", "\n".join(errors))

    return glue_runtime._build_once(final, install)  # whole or not at all, one installer at a time


@functools.cache
def _interpreter(python: str) -> str:
    """A short key for the interpreter a wheel is installed for (asked once per process)."""
    return hashlib.sha256(f"{python}\0{glue_runtime.python_version(python)}".encode()).hexdigest()[:12]


def _requirements(wheel: Path) -> list[str]:
    try:
        with zipfile.ZipFile(wheel) as whl:
            metadata = next(n for n in whl.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))
            fields = Parser().parsestr(whl.read(metadata).decode("utf-8"))
    except (zipfile.BadZipFile, StopIteration, UnicodeDecodeError) as exc:
        raise LibraryFailed(f"{ARGUMENT}: {wheel.name} is not a valid wheel",
                            f"{ARGUMENT}: {wheel.name}: {exc or 'no .dist-info/METADATA'}") from None
    return [r for r in fields.get_all("Requires-Dist") or [] if "extra ==" not in r]
