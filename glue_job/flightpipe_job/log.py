"""The job's log: lines on stdout, which Glue sends to CloudWatch Logs."""

from __future__ import annotations


def log(message: str) -> None:
    print(message, flush=True)
