"""Run the Glue job's `main(argv)` (flightpipe_job.run) in this process and write what it cost to a JSON file.

    python -m bench.job_driver RESULT.json -- --raw_bucket … (the job's arguments)

Run as a subprocess of the benchmark, so that its peak RSS is the job's alone (the stack lives in the parent).
"""

from __future__ import annotations

import importlib
import json
import resource
import sys
import time


def peak_rss_kb() -> int:
    """This process's peak resident set. On Linux, VmHWM of /proc/self/status: ru_maxrss would include the
    parent's peak from before the exec (Linux carries it over), i.e. the benchmark's own stack."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main(argv: list[str]) -> None:
    result_path, separator, *job_argv = argv
    if separator != "--":
        raise SystemExit(__doc__)
    started = time.perf_counter()
    job = importlib.import_module("flightpipe_job.run")
    imported = time.perf_counter()
    summary = job.main(job_argv)
    finished = time.perf_counter()
    peak_kb = peak_rss_kb()
    with open(result_path, "w") as out:
        json.dump({"import_seconds": imported - started, "main_seconds": finished - imported,
                   "peak_rss_mb": peak_kb / 1024, "loads": summary["loads"]}, out, default=str)


if __name__ == "__main__":
    main(sys.argv[1:])
