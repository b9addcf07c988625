"""The job's errors: what fails the run, what fails one file, what fails one Data API statement."""

from __future__ import annotations


class JobFailed(Exception):
    """The run fails; the message (one line) names the object(s) and the problem."""


class BadFile(Exception):
    """The object is unusable as a whole; the day is not loaded. The message names the object."""


class UnterminatedQuote(BadFile):
    """A line has a quote that is never closed on it and --multiline_quotes is refuse."""


class DataApiError(Exception):
    """A Data API statement (or batch) FAILED, was ABORTED, or did not finish in time; the message says which,
    `desc` is its last DescribeStatement."""

    def __init__(self, message: str, desc: dict | None = None):
        super().__init__(message)
        self.desc = desc or {}
