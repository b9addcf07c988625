"""AWS Glue that really works on the local stack: crawlers that catalog CSV data, jobs that run scripts.

moto keeps crawlers and job runs as records whose states advance on a timer and never do any work.
`patches()` lists the changes to moto's Glue models so that `StartCrawler` crawls (`glue_crawler.py`, with the CSV
classification of `glue_classifier.py`), `StartJobRun` runs the job's script (`glue_jobs.py`) and the catalog's
reads take Glue's options (`glue_catalog.py`).
"""

from __future__ import annotations

from flightpipe_local import context, glue_catalog, glue_crawler, glue_jobs
from flightpipe_local.context import StackContext
from flightpipe_local.patches import Patch


def patches() -> list[Patch]:
    return [*glue_crawler.patches(), *glue_jobs.patches(), *glue_catalog.patches()]


def install(ctx: StackContext) -> None:
    glue_crawler.crawl_seconds()  # a bad FLIGHTPIPE_LOCAL_CRAWL_SECONDS stops the stack from starting, with the reason
    glue_crawler.stopping_seconds()  # so does a bad FLIGHTPIPE_LOCAL_CRAWL_STOPPING_SECONDS
    glue_jobs.install(ctx)


def shutdown(ctx: StackContext | None = None) -> None:
    """Kill the stack's running job processes (their runs end STOPPED) and wait briefly for crawl threads."""
    ctx = ctx or context.current()
    glue_jobs.shutdown(ctx)
    glue_crawler.shutdown(ctx)
