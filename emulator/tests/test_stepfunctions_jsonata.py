"""JSONata state machines and workflow variables run on the local stack as on AWS.

Expected values are worked out by hand from the AWS docs "Transforming data with JSONata in Step Functions"
and "Passing data between states with variables".
"""

from __future__ import annotations

import hashlib
import json

import pytest
from sfn_support import caught_query_error, inline_map, run, unique

from flightpipe_local import stepfunctions_jsonata


def events_of(result: dict, event_type: str) -> list[dict]:
    return [event for event in result["history"] if event["type"] == event_type]


def test_arguments_output_assign_condition_and_map(aws):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Prepare",
        "States": {
            "Prepare": {
                "Type": "Pass",
                "Assign": {"threshold": "{% $states.input.threshold %}", "name": "{% $states.input.name %}"},
                "Output": {
                    "items": "{% $states.input.items %}",
                    "greeting": "{% 'Hello ' & $states.input.name %}",
                    "execution": "{% $states.context.Execution.Name %}",
                },
                "Next": "Big?",
            },
            "Big?": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $count($states.input.items) > $threshold %}", "Next": "Double"}],
                "Default": "Small",
            },
            "Double": {
                **inline_map("{% $states.input.items %}", "{% $states.input * 2 %}"),
                "Output": {
                    "doubled": "{% $states.result %}",
                    "sum": "{% $sum($states.result) %}",
                    "greeting": "{% $states.input.greeting %}",
                    "name": "{% $name %}",
                    "execution": "{% $states.input.execution %}",
                },
                "Next": "Done",
            },
            "Small": {"Type": "Pass", "Output": {"small": True}, "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    name = 'O\'Hare "ORD" \\ T1'  # quotes and a backslash: text, never pasted into the expression
    result = run(aws, definition, {"threshold": 2, "name": name, "items": [1, 2, 3]})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    output = json.loads(result["output"])
    assert output == {
        "doubled": [2, 4, 6],
        "sum": 12,
        "greeting": "Hello " + name,
        "name": name,
        "execution": result["name"],
    }


def test_choice_default_when_the_condition_is_false(aws):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Big?",
        "States": {
            "Big?": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $count($states.input.items) > 2 %}", "Next": "Big"}],
                "Default": "Small",
            },
            "Big": {"Type": "Pass", "Output": "big", "End": True},
            "Small": {"Type": "Pass", "Output": "{% 'small: ' & $string($count($states.input.items)) %}", "End": True},
        },
    }
    result = run(aws, definition, {"items": [1]})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"]) == "small: 1"


def test_task_arguments_result_and_catch_error_output(aws):
    bucket = unique("jsonata")
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="present.txt", Body=b"hello")
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Arguments": {"Bucket": "{% $states.input.bucket %}", "Key": "{% $states.input.key %}"},
                "Output": {"body": "{% $states.result.Body %}", "length": "{% $states.result.ContentLength %}"},
                "Catch": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "Assign": {"caught": "{% $states.errorOutput.Error %}"},
                        "Output": {
                            "bucket": "{% $states.input.bucket %}",
                            "hasCause": "{% $exists($states.errorOutput.Cause) %}",
                        },
                        "Next": "Report",
                    }
                ],
                "End": True,
            },
            "Report": {
                "Type": "Pass",
                "Output": {"caught": "{% $caught %}", "seen": "{% $states.input %}"},
                "End": True,
            },
        },
    }
    found = run(aws, definition, {"bucket": bucket, "key": "present.txt"})
    assert found["status"] == "SUCCEEDED", found.get("cause")
    assert json.loads(found["output"]) == {"body": "hello", "length": 5}

    missing = run(aws, definition, {"bucket": bucket, "key": "absent.txt"})
    assert missing["status"] == "SUCCEEDED", missing.get("cause")
    assert json.loads(missing["output"]) == {
        "caught": "S3.NoSuchKeyException",
        "seen": {"bucket": bucket, "hasCause": True},
    }


def test_an_undefined_result_fails_with_query_evaluation_error(aws):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Pick",
        "States": {"Pick": {"Type": "Pass", "Output": {"v": "{% $states.input.missing %}"}, "End": True}},
    }
    result = run(aws, definition, {"present": 1})
    assert result["status"] == "FAILED"
    assert result["error"] == "States.QueryEvaluationError"
    assert "returned nothing (undefined)" in result["cause"]
    (failed,) = events_of(result, "EvaluationFailed")
    assert failed["evaluationFailedEventDetails"]["state"] == "Pick"


def test_an_expression_error_can_be_caught(aws):
    compute = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
        "Arguments": {"Bogus": "{% $notAFunction(1) %}"},
    }
    assert caught_query_error(aws, compute) == "States.QueryEvaluationError"


def test_one_jsonata_state_in_a_jsonpath_machine(aws):
    definition = {
        "StartAt": "Path",
        "States": {
            "Path": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "Next": "Ata"},
            "Ata": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {"m": "{% $states.input.n + 1 %}"},
                "End": True,
            },
        },
    }
    result = run(aws, definition, {"n": 41})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"]) == {"m": 42}


def test_variables_in_jsonpath_states(aws):
    definition = {
        "StartAt": "Remember",
        "States": {
            "Remember": {
                "Type": "Pass",
                "Assign": {"bucket.$": "$.detail.bucket", "fixed": 5, "both": {"key.$": "$.detail.key"}},
                "Next": "Use",
            },
            "Use": {
                "Type": "Pass",
                "Parameters": {"bucket.$": "$bucket", "fixed.$": "$fixed", "key.$": "$both.key", "input.$": "$.detail"},
                "End": True,
            },
        },
    }
    result = run(aws, definition, {"detail": {"bucket": "raw", "key": "a/b.csv"}})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"]) == {
        "bucket": "raw",
        "fixed": 5,
        "key": "a/b.csv",
        "input": {"bucket": "raw", "key": "a/b.csv"},
    }


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("$partition([1, 2, 3, 4, 5], 2)", [[1, 2], [3, 4], [5]]),
        ("$range(0, 10, 2)", [0, 2, 4, 6, 8, 10]),
        ("$range(5, 1, -2)", [5, 3, 1]),
        ("$hash('flights', 'SHA-256')", hashlib.sha256(b"flights").hexdigest()),
        ("$hash('flights', 'MD5')", hashlib.md5(b"flights").hexdigest()),  # noqa: S324 - the documented algorithm
        ("$parse('{\"a\": [1, null]}')", {"a": [1, None]}),
        ("$random(7) = $random(7)", True),
        ("$length($uuid())", 36),
        ("null", None),
    ],
)
def test_step_functions_functions(expression, expected):
    assert stepfunctions_jsonata.evaluate(expression, {}) == expected


def test_eval_is_not_available():
    with pytest.raises(stepfunctions_jsonata.JSONataError, match=r"\$eval is not available"):
        stepfunctions_jsonata.evaluate("$eval('1 + 1')", {})


def test_undefined_is_not_null():
    assert stepfunctions_jsonata.evaluate("$x.missing", {"x": {}}) is stepfunctions_jsonata.UNDEFINED
    assert stepfunctions_jsonata.evaluate("$x.present", {"x": {"present": None}}) is None


def test_map_item_selector_and_choice_rule_assign(aws):
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "Each",
        "States": {
            "Each": {
                **inline_map("{% $states.input.days %}",
                             "{% $states.input.prefix & $states.input.day & '#' & $states.input.position %}"),
                "ItemSelector": {
                    "day": "{% $states.context.Map.Item.Value %}",
                    "position": "{% $states.context.Map.Item.Index %}",
                    "prefix": "{% $states.input.prefix %}",
                },
                "Next": "Many?",
            },
            "Many?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "Condition": "{% $count($states.input) >= 2 %}",
                        "Assign": {"verdict": "many"},
                        "Output": {"keys": "{% $states.input %}"},
                        "Next": "Report",
                    }
                ],
                "Default": "Report",
            },
            "Report": {
                "Type": "Pass",
                "Output": {"keys": "{% $states.input.keys %}", "verdict": "{% $verdict %}"},
                "End": True,
            },
        },
    }
    result = run(aws, definition, {"days": ["2024-01-01", "2024-01-02"], "prefix": "raw/date="})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"]) == {
        "keys": ["raw/date=2024-01-01#0", "raw/date=2024-01-02#1"],
        "verdict": "many",
    }


def test_moto_has_an_evaluator_for_any_other_path(local_stack):
    from moto.stepfunctions.parser.asl.jsonata.jsonata import eval_jsonata_expression

    assert eval_jsonata_expression("($x := 2; $x * 21)") == 42
