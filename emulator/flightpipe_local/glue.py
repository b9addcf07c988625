"""AWS Glue that really works on the local stack: crawlers that catalog CSV data, jobs that run scripts.

moto keeps crawlers and job runs as records whose states advance on a timer and never do any work.
`install(ctx)` patches moto's Glue models so that `StartCrawler` crawls (`glue_crawler.py`, with the CSV
classification of `glue_classifier.py`) and `StartJobRun` runs the job's script (`glue_jobs.py`).
"""

from __future__ import annotations

from flightpipe_local import glue_crawler, glue_jobs
from flightpipe_local.context import StackContext


def install(ctx: StackContext) -> None:
    """Patch moto's Glue crawler and job models (idempotent; a second call only updates `ctx`)."""
    glue_crawler.install()
    glue_jobs.install(ctx)


def shutdown() -> None:
    """Kill running job processes (their runs end STOPPED) and wait briefly for crawl threads."""
    glue_jobs.shutdown()
    glue_crawler.shutdown()
