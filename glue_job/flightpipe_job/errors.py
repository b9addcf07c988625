"""The job's errors: what fails the run, what fails one file, what fails one statement."""

from __future__ import annotations


class JobFailed(Exception):
    """The run fails; the message (one line) names the object(s) and the problem."""


class BadFile(Exception):
    """The object is unusable as a whole; the day is not loaded. The message names the object."""


class UnterminatedQuote(BadFile):
    """A line has a quote that is never closed on it and --multiline_quotes is refuse."""


class StatementFailed(Exception):
    pass
