"""The machine the figures were measured on, and the table they are printed in."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path


def machine() -> dict[str, str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    ram = "unknown"
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": ram, "python": sys.version.split()[0],
            "os": platform.platform()}


def describe(machine: dict[str, str]) -> str:
    return (f"{machine['nproc']} CPU(s), {machine['cpu']}, {machine['ram']} RAM, Python {machine['python']}, "
            f"reference loop {machine['python_reference_seconds']} s")


def python_reference_seconds() -> float:
    """Seconds one core of this machine takes for a fixed pure-Python loop (10 million additions; median of 3):
    absolute times compare across machines after dividing by it, ratios need no such help."""
    def once() -> float:
        started, total = time.perf_counter(), 0
        for number in range(10_000_000):
            total += number
        return time.perf_counter() - started
    return statistics.median(once() for _ in range(3))


def table(rows: list[tuple[str, str, str, str]]) -> str:
    """A Markdown table of (measure, value, target, verdict): readable in a terminal and in the docs."""
    header = ("measure", "value", "target", "")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"
