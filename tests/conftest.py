"""What every core test shares: a short local crawl, and how the suite runs on several pytest-xdist workers
(`make test` runs `-n 4 --dist loadscope`).

Each xdist worker is a pytest session of its own, so it starts its own local stack (a free port, a state folder
under its own basetemp) and provisions its own copy of the pipeline when it runs an end-to-end test; tests on
different workers never share a stack. So the tests of one tests/e2e/ file go to one worker together (one
provisioning serves them all); every other test is handed out on its own, to whichever worker is free.
"""

from __future__ import annotations

import json
import os

# A local crawl stays RUNNING 1.5 s by default (an AWS crawl takes minutes), longer than the state machines'
# 1 s poll, so every execution polled the crawler twice. The tests use a crawl shorter than one poll: each
# execution still waits once in WaitForCrawler and then finds the crawl done. The test of the crawler poll loop
# (tests/pipeline/test_statemachine_jsonata.py) removes this setting to get the default crawl time back.
# Read by the stack at each crawl, and inherited by the stacks and kernels the tests start.
os.environ.setdefault("FLIGHTPIPE_LOCAL_CRAWL_SECONDS", "0.5")

_reliability_parts: list[dict] = []


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` with our scopes: a tests/e2e/ file, or else the single test."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByEndToEndFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.startswith("tests/e2e/") else nodeid

    return ByEndToEndFile(config, log)


def pytest_testnodedown(node, error):
    """An xdist worker ended: keep the end-to-end figures it measured (see tests/e2e/conftest.py)."""
    part = getattr(node, "workeroutput", {}).get("reliability")
    if part:
        _reliability_parts.append(json.loads(part))


def pytest_sessionfinish(session):
    """On the xdist controller: write the workers' figures as one runs/reliability.json."""
    if _reliability_parts:
        from flightpipe.runbook import runs_dir

        path = runs_dir() / "reliability.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(merge_reliability(_reliability_parts), indent=2, default=str) + "\n")


def merge_reliability(parts: list[dict]) -> dict:
    """One summary of several workers' summaries: their cases together and their counts added; the times are
    the longest worker's (each worker provisioned once and ran its cases while the others ran theirs)."""
    merged = dict(parts[0])
    for name, value in parts[0].items():
        if name == "cases":
            merged[name] = [case for part in parts for case in part[name]]
        elif name in ("provision_seconds", "cases_seconds"):
            merged[name] = max(part[name] for part in parts)
        elif isinstance(value, int):
            merged[name] = sum(part[name] for part in parts)
    merged["workers"] = len(parts)
    return merged
