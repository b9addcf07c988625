"""What the Step Functions tests share: a role, unique names, and running a state machine to its end."""

from __future__ import annotations

import json
import time
import uuid

ROLE = "arn:aws:iam::123456789012:role/flightpipe-states"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_until_ended(sfn, execution_arn: str, timeout: float = 10) -> dict:
    """DescribeExecution once the execution is no longer RUNNING."""
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "execution still running"
        time.sleep(0.05)
    return described


def run(aws, definition: dict, payload: dict | None = None, timeout: float = 20) -> dict:
    """Create a state machine, run it to the end, return describe_execution plus its history."""
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(name=unique("sm"), definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload or {}))["executionArn"]
    result = wait_until_ended(sfn, execution, timeout)
    result["history"] = sfn.get_execution_history(executionArn=execution)["events"]
    return result


def inline_map(items: str, output: str) -> dict:
    """A JSONata Map state that runs one Pass state per item of `items`, with Output `output` (in INLINE mode)."""
    return {
        "Type": "Map",
        "Items": items,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Item",
            "States": {"Item": {"Type": "Pass", "Output": output, "End": True}},
        },
    }


def caught_query_error(aws, state: dict) -> str:
    """Run one JSONata `state` whose States.QueryEvaluationError is caught; return the caught error's name.

    Doc "Handling errors in Step Functions workflows": a Catch's Output sees the error as $states.errorOutput.
    """
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Failing",
        "States": {
            "Failing": {
                **state,
                "Catch": [
                    {
                        "ErrorEquals": ["States.QueryEvaluationError"],
                        "Output": "{% $states.errorOutput.Error %}",
                        "Next": "Caught",
                    }
                ],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }
    result = run(aws, definition)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    return json.loads(result["output"])
