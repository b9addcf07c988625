"""Run moto's own tests plain and with the extensions; print the table (see the package docstring)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from flightpipe_local import MOTO_VERSION
from flightpipe_local.peer_check.exceptions import AS_ON_AWS

CACHE = Path(os.environ.get("FLIGHTPIPE_LOCAL_CACHE", Path.home() / ".cache" / "flightpipe-local"))

# moto's test files for the services the extensions change (S3: the writes CloudTrail records, the version
# listing of s3_versions.py and the object file handles it must leave alone). The timestamps of every service's
# responses (timestamps.py) are in all of them.
SUITES = {
    "stepfunctions": ["tests/test_stepfunctions"],
    "events": ["tests/test_events"],
    "glue": [f"tests/test_glue/{name}.py" for name in ("test_glue", "test_glue_job_runs", "test_datacatalog")],
    "redshiftdata": ["tests/test_redshiftdata"],
    "cloudtrail": ["tests/test_cloudtrail"],
    "s3": [f"tests/test_s3/{name}.py" for name in ("test_s3_copyobject", "test_s3_multipart", "test_s3",
                                                    "test_s3_list_object_versions", "test_s3_file_handles")],
}
# Of test_s3.py (S3 at large), the put, copy and multipart tests only.
KEYWORDS = "not test_s3.py or put or copy or multipart"
# Lambda targets run functions in Docker, which CI does not have.
MARKERS = "not requires_docker"


def moto_tests(version: str = MOTO_VERSION) -> Path:
    """moto's source tree with its tests, from the sdist on PyPI (downloaded once, then cached)."""
    root = CACHE / f"moto-{version}-src" / f"moto-{version}"
    if (root / "tests" / "conftest.py").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"moto-{version}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", f"moto=={version}", "--no-binary", ":all:",
             "--no-deps", "--dest", str(CACHE)],
            check=True,
        )
    prefix = f"moto-{version}/"
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith((prefix + "tests/", prefix + "pyproject.toml"))]
        archive.extractall(root.parent, members=members, filter="data")
    return root


def moto_test_env() -> dict[str, str]:
    """This environment without the caller's AWS, stack and moto settings, which would steer moto's tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FLIGHTPIPE_", "MOTO_"))}


def pytest_command(paths: list[str], junit: Path, extended: bool) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no", "-m", MARKERS,
               "-k", KEYWORDS, f"--junitxml={junit}", *paths]
    if extended:
        command[3:3] = ["-p", "flightpipe_local.peer_check.plugin"]
    return command


def outcomes(junit: Path) -> dict[str, str]:
    """Test id (`test_glue.test_glue_job_runs.test_x`) → passed | failed | skipped."""
    found = {}
    for case in ET.parse(junit).iter("testcase"):
        test_id = f"{case.get('classname').removeprefix('tests.')}.{case.get('name')}"
        if case.find("skipped") is not None:
            found[test_id] = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            found[test_id] = "failed"
        else:
            found[test_id] = "passed"
    return found


def service_of(test_id: str) -> str:
    return test_id.split(".", 1)[0].removeprefix("test_")


def run_both(root: Path, services: list[str], workdir: Path) -> tuple[dict[str, str], dict[str, str], float]:
    """Both runs at once (each is mostly waiting on moto's sleeps and timeouts)."""
    paths = [path for service in services for path in SUITES[service]]
    env = moto_test_env()
    started = time.monotonic()
    runs = {}
    for mode in ("plain", "extended"):
        junit = workdir / f"{mode}.xml"
        log = open(workdir / f"{mode}.log", "w")
        process = subprocess.Popen(
            pytest_command(paths, junit, mode == "extended"), cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        runs[mode] = (process, junit, log)
    for process, _, log in runs.values():
        process.wait()
        log.close()
    for mode, (_, junit, _) in runs.items():
        if not junit.exists():
            raise SystemExit(f"the {mode} run of moto's tests produced no report: see {workdir / (mode + '.log')}")
    return outcomes(runs["plain"][1]), outcomes(runs["extended"][1]), time.monotonic() - started


def report(plain: dict[str, str], extended: dict[str, str], services: list[str]) -> tuple[str, list[str]]:
    """The table and the differing tests (Markdown), and the undocumented regressions."""
    lines = ["| service | tests | passed plain | passed extended | differ (documented) |", "|---|---:|---:|---:|---:|"]
    by_service = defaultdict(list)
    for test_id in sorted(set(plain) | set(extended)):
        by_service[service_of(test_id)].append(test_id)
    documented, unexpected, improved = defaultdict(list), [], []
    for service in services:
        ids = by_service.get(service, [])
        differ = [t for t in ids if plain.get(t) != extended.get(t)]
        passed_plain = sum(plain.get(t) == "passed" for t in ids)
        passed_extended = sum(extended.get(t) == "passed" for t in ids)
        known = sum(t in AS_ON_AWS for t in differ)
        lines.append(f"| {service} | {len(ids)} | {passed_plain} | {passed_extended} | {len(differ)} ({known}) |")
        for test_id in differ:
            if test_id in AS_ON_AWS:
                documented[AS_ON_AWS[test_id]].append(test_id)
            elif plain.get(test_id) == "passed":
                unexpected.append(test_id)
            else:
                improved.append(test_id)
    if documented:
        lines += ["", f"Documented, as on AWS ({sum(map(len, documented.values()))}):"]
        for why, ids in documented.items():
            lines += [f"- {why}:", *(f"  - `{t}`" for t in ids)]
    if unexpected:
        lines += ["", f"Regressions: pass on plain moto, fail with the extensions ({len(unexpected)}):"]
        lines += [f"- `{t}` ({extended.get(t, 'absent')})" for t in unexpected]
    if improved:
        lines += ["", f"Pass only with the extensions ({len(improved)}):", *(f"- `{t}`" for t in improved)]
    return "\n".join(lines), unexpected


def node_id(root: Path, test_id: str) -> str:
    """`test_glue.test_glue_job_runs.test_x` → `tests/test_glue/test_glue_job_runs.py::test_x` (classes too)."""
    parts = test_id.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        path = Path("tests", *parts[:cut]).with_suffix(".py")
        if (root / path).is_file():
            return "::".join([path.as_posix(), *parts[cut:]])
    raise SystemExit(f"no test file in {root / 'tests'} for {test_id}")


def run_again(root: Path, test_ids: list[str], workdir: Path) -> list[str]:
    """The tests that pass when run again with the extensions, alone: several of moto's tests race a real
    execution or job run against their own fixed sleeps, and a busy machine loses some of those races."""
    junit = workdir / "again.xml"
    env = moto_test_env()
    with open(workdir / "again.log", "w") as log:
        subprocess.run(pytest_command([node_id(root, t) for t in test_ids], junit, extended=True), cwd=root,
                       env=env, stdout=log, stderr=subprocess.STDOUT)
    again = outcomes(junit) if junit.exists() else {}
    return [t for t in test_ids if again.get(t) == "passed"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--service", action="append", choices=sorted(SUITES), help="only these (repeatable)")
    args = parser.parse_args(argv)
    services = args.service or list(SUITES)
    root = moto_tests()
    with tempfile.TemporaryDirectory(prefix="flightpipe-peer-check-") as workdir:
        plain, extended, seconds = run_both(root, services, Path(workdir))
        table, unexpected = report(plain, extended, services)
        passed_again = run_again(root, unexpected, Path(workdir)) if unexpected else []
    if passed_again:
        extended.update(dict.fromkeys(passed_again, "passed"))
        table, unexpected = report(plain, extended, services)
    print(f"moto {MOTO_VERSION}'s own tests, plain and with the extensions ({seconds:.0f} s):\n")
    print(table)
    if passed_again:
        print(f"\nFailed with the extensions, then passed when run again alone ({len(passed_again)}):")
        print("\n".join(f"- `{t}`" for t in passed_again))
    if unexpected:
        print(f"\n{len(unexpected)} test(s) pass on plain moto but fail with the extensions and are not documented "
              "in flightpipe_local/peer_check/exceptions.py: fix them or document the AWS behaviour.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
