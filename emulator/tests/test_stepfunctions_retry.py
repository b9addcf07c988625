"""Retriers on the local Step Functions wait as AWS documents ("Handling errors in Step Functions workflows",
Retrier fields): IntervalSeconds before the first retry, multiplied by BackoffRate for each next one, never
more than MaxDelaySeconds; with JitterStrategy FULL each wait is a random value between 0 and that interval.
The daily state machine's RunJob relies on it to spread executions that hit Glue's MaxConcurrentRuns."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl, retrier_decl
from sfn_support import run


def failing_task_with_retry(retrier: dict) -> dict:
    """A Task that always fails with Glue.EntityNotFoundException (no such job), retried by `retrier`."""
    return {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:getJob",
                "Parameters": {"JobName": f"no-such-job-{uuid.uuid4().hex[:8]}"},
                "Retry": [{"ErrorEquals": ["Glue.EntityNotFoundException"], **retrier}],
                "End": True,
            }
        },
    }


@pytest.fixture
def waits(monkeypatch):
    """The retry waits the engine asks for, recorded instead of slept; and the (low, high) bounds of every
    random draw for jitter, each answered with its midpoint."""
    slept: list[float] = []
    draws: list[tuple[float, float]] = []
    monkeypatch.setattr(retrier_decl, "time", SimpleNamespace(sleep=slept.append))

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return (low + high) / 2

    monkeypatch.setattr(jitter_strategy_decl, "random", SimpleNamespace(uniform=uniform))
    return slept, draws


def attempts(result: dict) -> int:
    return sum(e["type"] == "TaskFailed" for e in result["history"])


def test_max_delay_seconds_caps_the_backoff(aws, waits):
    slept, draws = waits
    result = run(aws, failing_task_with_retry(
        {"IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 4, "MaxDelaySeconds": 3}))
    assert result["status"] == "FAILED" and result["error"] == "Glue.EntityNotFoundException"
    assert attempts(result) == 5  # the first try and 4 retries
    assert slept == [1, 2, 3, 3]  # 1, 2, 4 → 3, 8 → 3
    assert draws == []  # no JitterStrategy: NONE, no randomness


def test_full_jitter_draws_each_wait_between_0_and_the_capped_interval(aws, waits):
    slept, draws = waits
    result = run(aws, failing_task_with_retry(
        {"IntervalSeconds": 2, "BackoffRate": 2.0, "MaxAttempts": 4, "MaxDelaySeconds": 5, "JitterStrategy": "FULL"}))
    assert result["status"] == "FAILED" and attempts(result) == 5
    assert draws == [(0, 2), (0, 4), (0, 5), (0, 5)]
    assert slept == [1, 2, 2.5, 2.5]


def test_without_max_delay_the_interval_keeps_doubling(aws, waits):
    slept, _ = waits
    run(aws, failing_task_with_retry({"IntervalSeconds": 2, "BackoffRate": 2.0, "MaxAttempts": 3}))
    assert slept == [2, 4, 8]
