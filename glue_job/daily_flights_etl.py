"""Daily flights ETL (AWS Glue Python shell job, Python 3.9): new `flights.csv` files in S3 → Redshift.

The entry script Glue runs. The job itself is the `flightpipe_job` package (glue_job/flightpipe_job/, its overview
in its __init__.py), which the job definition passes as a wheel with `--extra-py-files`.
"""

from __future__ import annotations

import sys

from flightpipe_job.errors import JobFailed
from flightpipe_job.run import main

if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except JobFailed as failure:
        # One line on stderr, and the exception itself for Glue's ErrorMessage.
        print(f"JobFailed: {failure}", file=sys.stderr, flush=True)
        raise
