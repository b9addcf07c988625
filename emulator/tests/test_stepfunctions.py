"""Step Functions on the local stack runs the pipeline's integrations as AWS does."""

from __future__ import annotations

import json
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.glue.models import GlueBackend
from moto.stepfunctions.parser.asl.component.state.choice.state_choice import StateChoice
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from sfn_support import ROLE, caught_query_error, inline_map, run, unique, wait_until_ended

from flightpipe_local import context, glue_crawler, glue_jobs, stepfunctions


def caught_error(aws, resource: str, parameters: dict) -> dict:
    """Run one Task whose errors are caught; return the caught {Error, Cause}."""
    definition = {
        "StartAt": "Call",
        "States": {
            "Call": {
                "Type": "Task",
                "Resource": resource,
                "Parameters": parameters,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                "End": True,
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = run(aws, definition)
    assert result["status"] == "SUCCEEDED"
    return json.loads(result["output"])["error"]


@pytest.fixture
def topic_queue(aws):
    """An SNS topic with an SQS queue subscribed (raw delivery): returns (topic_arn, receive())."""
    sns, sqs = aws("sns"), aws("sqs")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})

    def receive() -> list[str]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return [message["Body"] for message in messages.get("Messages", [])]

    return topic, receive


@pytest.fixture
def glue_job(aws):
    """A Glue Python-shell job whose script does nothing wrong."""
    bucket = unique("scripts")
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="job.py", Body=b"print('ok')\n")
    name = unique("job")
    aws("glue").create_job(
        Name=name,
        Role=ROLE,
        Command={"Name": "pythonshell", "ScriptLocation": f"s3://{bucket}/job.py", "PythonVersion": "3.9"},
        MaxCapacity=0.0625,
    )
    return name


def fake_job_runs(monkeypatch, states: list[str], error_message: str | None = None) -> list[str]:
    """GetJobRun answers with `states` in turn (the last one repeated); returns the states served."""
    served: list[str] = []
    original = GlueBackend.get_job_run

    class Run:
        def __init__(self, run):
            self.run = run

        def as_dict(self):
            state = states[min(len(served), len(states) - 1)]
            served.append(state)
            answer = {**self.run.as_dict(), "JobRunState": state}
            if error_message and state != "SUCCEEDED":
                answer["ErrorMessage"] = error_message
            return answer

    monkeypatch.setattr(GlueBackend, "get_job_run", lambda backend, *args: Run(original(backend, *args)))
    return served


def run_job_definition(job: str, topic: str) -> dict:
    return {
        "StartAt": "RunJob",
        "States": {
            "RunJob": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": job},
                "ResultPath": "$.job",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}],
                "Next": "Done",
            },
            "NotifyFailure": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {
                    "TopicArn": topic,
                    "Message.$": "States.Format('failed: {} {}', $.error.Error, $.error.Cause)",
                },
                "ResultPath": None,
                "Next": "Failed",
            },
            "Failed": {"Type": "Fail", "Error": "PipelineFailed"},
            "Done": {"Type": "Succeed"},
        },
    }


def test_engine_calls_back_the_stack_on_127_0_0_1(local_stack):
    client = stepfunctions.local_boto_client_for("us-east-1", "glue")
    assert client.meta.endpoint_url == local_stack.endpoint
    assert local_stack.endpoint.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("service", "code", "expected"),
    [
        # The two examples of the AWS Step Functions developer guide (aws-sdk integrations).
        ("acmpca", "ResourceNotFoundException", "AcmPca.ResourceNotFoundException"),
        ("s3", "BucketAlreadyExists", "S3.BucketAlreadyExistsException"),
        ("glue", "CrawlerRunningException", "Glue.CrawlerRunningException"),
        ("redshiftdata", "ValidationException", "RedshiftData.ValidationException"),
    ],
)
def test_sdk_error_names_follow_aws_pattern(service, code, expected):
    assert stepfunctions.sdk_error_name(service, code) == expected


def test_glue_sync_waits_for_the_run_and_returns_it(aws, glue_job, monkeypatch):
    served = fake_job_runs(monkeypatch, ["STARTING", "RUNNING", "RUNNING", "SUCCEEDED"])
    waits: list[float] = []  # the timeout of each wait between two looks (moto's engine sleeps 0.5 s)
    wait = glue_jobs.wait_for_a_run_to_end

    def recorded_wait(seen, timeout):
        waits.append(timeout)
        wait(seen, timeout)

    monkeypatch.setattr(glue_jobs, "wait_for_a_run_to_end", recorded_wait)
    result = run(aws, run_job_definition(glue_job, "arn:aws:sns:us-east-1:123456789012:unused"))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    job = json.loads(result["output"])["job"]
    assert job["JobRunState"] == "SUCCEEDED" and job["JobName"] == glue_job
    assert served == ["STARTING", "RUNNING", "RUNNING", "SUCCEEDED"]
    assert waits == [stepfunctions.SYNC_POLL_SECONDS] * 3


def test_glue_sync_looks_again_when_the_local_run_ends(aws, glue_job, monkeypatch):
    """The end of a local job run wakes its `.sync` task: the poll interval only bounds the wait."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback

    monkeypatch.setattr(stepfunctions, "SYNC_POLL_SECONDS", 600)
    monkeypatch.setattr(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", 600)
    result = run(aws, run_job_definition(glue_job, "arn:aws:sns:us-east-1:123456789012:unused"), timeout=60)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"])["job"]["JobRunState"] == "SUCCEEDED"


@pytest.mark.parametrize("final_state", ["FAILED", "STOPPED"])
def test_glue_sync_failure_is_caught_and_announced(aws, glue_job, topic_queue, monkeypatch, final_state):
    topic, receive = topic_queue
    message = f"ZeroDivisionError: division by zero ({uuid.uuid4().hex[:6]})"
    fake_job_runs(monkeypatch, ["RUNNING", final_state], error_message=message)
    result = run(aws, run_job_definition(glue_job, topic))
    assert result["status"] == "FAILED" and result["error"] == "PipelineFailed"
    failed = [e["taskFailedEventDetails"] for e in result["history"] if e["type"] == "TaskFailed"]
    assert failed[0]["error"] == "States.TaskFailed"
    job_run = json.loads(failed[0]["cause"])
    assert job_run["ErrorMessage"] == message
    assert job_run["JobName"] == glue_job and job_run["JobRunState"] == final_state
    (published,) = receive()
    assert published.startswith("failed: States.TaskFailed ") and message in published


def test_glue_concurrent_runs_error_is_retried(aws, glue_job, monkeypatch):
    from moto.glue.exceptions import ConcurrentRunsExceededException

    original = GlueBackend.start_job_run
    calls = []

    def busy_once(backend, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConcurrentRunsExceededException(f"Job with name {glue_job} already running")
        return original(backend, *args, **kwargs)

    monkeypatch.setattr(GlueBackend, "start_job_run", busy_once)
    definition = run_job_definition(glue_job, "arn:aws:sns:us-east-1:123456789012:unused")
    definition["States"]["RunJob"]["Retry"] = [
        {"ErrorEquals": ["Glue.ConcurrentRunsExceededException"], "IntervalSeconds": 1, "MaxAttempts": 2}
    ]
    result = run(aws, definition)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    failed = [e["taskFailedEventDetails"]["error"] for e in result["history"] if e["type"] == "TaskFailed"]
    assert failed == ["Glue.ConcurrentRunsExceededException"]
    assert len(calls) == 2


def test_aws_sdk_glue_errors_carry_aws_names(aws, monkeypatch):
    monkeypatch.setattr(glue_crawler, "STOPPING_SECONDS", 3)  # keep the crawl busy long enough to collide with
    crawler = unique("crawler")
    aws("glue").create_database(DatabaseInput={"Name": crawler})
    aws("glue").create_crawler(
        Name=crawler, Role=ROLE, DatabaseName=crawler, Targets={"S3Targets": [{"Path": "s3://nowhere/"}]}
    )
    aws("glue").start_crawler(Name=crawler)
    try:
        aws("glue").start_crawler(Name=crawler)
    except ClientError as exc:
        expected = "Glue." + exc.response["Error"]["Code"]
    else:
        pytest.skip("the crawler finished at once; nothing to collide with")
    error = caught_error(aws, "arn:aws:states:::aws-sdk:glue:startCrawler", {"Name": crawler})
    assert error["Error"] == expected == "Glue.CrawlerRunningException"
    assert "Service: Glue" in error["Cause"]

    missing = caught_error(aws, "arn:aws:states:::aws-sdk:glue:getCrawler", {"Name": unique("missing")})
    assert missing["Error"] == "Glue.EntityNotFoundException"


def test_aws_sdk_s3_round_trip_and_error_name(aws):
    bucket = unique("sdk")
    aws("s3").create_bucket(Bucket=bucket)
    definition = {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket": bucket, "Key": "note.txt", "Body.$": "$.text"},
                "ResultPath": None,
                "Next": "Get",
            },
            "Get": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": bucket, "Key": "note.txt"},
                "ResultSelector": {"Body.$": "$.Body"},
                "End": True,
            },
        },
    }
    result = run(aws, definition, {"text": "hello flights"})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert json.loads(result["output"])["Body"] == "hello flights"
    assert aws("s3").get_object(Bucket=bucket, Key="note.txt")["Body"].read() == b"hello flights"

    error = caught_error(aws, "arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": bucket, "Key": "absent"})
    assert error["Error"] == "S3.NoSuchKeyException"


def test_aws_sdk_redshiftdata_statement_loop(aws):
    """executeStatement → Wait → describeStatement → Choice → getStatementResult, as the pipeline does.

    Fields are PascalCase in state data, as on AWS: `Parameters[].Name/Value` in, `StringValue` out."""
    sql = f"SELECT CAST(:n AS INT) + 1 AS one, :tag AS tag -- {uuid.uuid4().hex[:8]}"
    sdk = "arn:aws:states:::aws-sdk:redshiftdata:"
    definition = {
        "StartAt": "Execute",
        "States": {
            "Execute": {
                "Type": "Task",
                "Resource": sdk + "executeStatement",
                "Parameters": {
                    "WorkgroupName": "flightpipe",
                    "Database": "dev",
                    "Sql": sql,
                    "Parameters": [{"Name": "n", "Value": "41"}, {"Name": "tag", "Value": "x"}],
                },
                "ResultSelector": {"Id.$": "$.Id"},
                "ResultPath": "$.statement",
                "Next": "Wait",
            },
            "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Describe"},
            "Describe": {
                "Type": "Task",
                "Resource": sdk + "describeStatement",
                "Parameters": {"Id.$": "$.statement.Id"},
                "ResultSelector": {"Status.$": "$.Status", "QueryString.$": "$.QueryString"},
                "ResultPath": "$.described",
                "Next": "Finished?",
            },
            "Finished?": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.described.Status", "StringEquals": "FINISHED", "Next": "Result"},
                    {"Variable": "$.described.Status", "StringEquals": "FAILED", "Next": "Failed"},
                ],
                "Default": "Wait",
            },
            "Failed": {"Type": "Fail", "Error": "StatementFailed"},
            "Result": {
                "Type": "Task",
                "Resource": sdk + "getStatementResult",
                "Parameters": {"Id.$": "$.statement.Id"},
                "ResultSelector": {"Records.$": "$.Records", "tag.$": "$.Records[0][1].StringValue"},
                "ResultPath": "$.result",
                "End": True,
            },
        },
    }
    result = run(aws, definition)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    output = json.loads(result["output"])
    data_api = boto3.client("redshift-data", region_name="us-east-1")
    statement_id = output["statement"]["Id"]
    assert data_api.describe_statement(Id=statement_id)["QueryString"] == output["described"]["QueryString"] == sql
    api_records = data_api.get_statement_result(Id=statement_id)["Records"]
    assert api_records == [[{"longValue": 42}, {"stringValue": "x"}]]
    assert output["result"]["Records"] == [[{"LongValue": 42}, {"StringValue": "x"}]]
    assert output["result"]["tag"] == "x"


def test_aws_sdk_redshiftdata_error_named_like_aws(aws):
    try:
        boto3.client("redshift-data", region_name="us-east-1").describe_statement(Id="not-a-statement-id")
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
    else:
        pytest.fail("the Data API accepted an invalid statement id")
    expected = "RedshiftData." + (code if code.endswith("Exception") else code + "Exception")
    error = caught_error(aws, "arn:aws:states:::aws-sdk:redshiftdata:describeStatement", {"Id": "not-a-statement-id"})
    assert error["Error"] == expected
    assert "Service: RedshiftData" in error["Cause"]


def test_intrinsic_functions(aws):
    definition = {
        "StartAt": "Compute",
        "States": {
            "Compute": {
                "Type": "Pass",
                "Parameters": {
                    "date.$": "States.ArrayGetItem(States.StringSplit($.key, '='), 1)",
                    "next.$": "States.MathAdd($.attempt, 1)",
                    "config.$": "States.StringToJson($.raw)",
                    "text.$": "States.JsonToString($.obj)",
                    "message.$": "States.Format('loaded {} rows for {}', $.rows, $.key)",
                },
                "End": True,
            }
        },
    }
    payload = {"key": "date=2024-01-05", "attempt": 2, "raw": '{"wait": 3}', "obj": {"a": [1, 2]}, "rows": 17}
    result = run(aws, definition, payload)
    assert result["status"] == "SUCCEEDED", result.get("cause")
    output = json.loads(result["output"])
    assert output["date"] == payload["key"].split("=")[1]
    assert output["next"] == payload["attempt"] + 1
    assert output["config"] == json.loads(payload["raw"])
    assert json.loads(output["text"]) == payload["obj"]
    assert output["message"] == f"loaded {payload['rows']} rows for {payload['key']}"


def pipeline_definition(crawler: str, job: str, topic: str) -> dict:
    """The shape of the project's state machine: crawl, wait for the crawl, run the job, announce."""
    return {
        "StartAt": "Config",
        "States": {
            "Config": {
                "Type": "Pass",
                "Parameters": {"crawler": crawler, "job": job, "wait": 1, "polls": 0},
                "ResultPath": "$.config",
                "Next": "StartCrawler",
            },
            "StartCrawler": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:startCrawler",
                "Parameters": {"Name.$": "$.config.crawler"},
                "ResultPath": None,
                "Catch": [{"ErrorEquals": ["Glue.CrawlerRunningException"], "ResultPath": None, "Next": "WaitCrawler"}],
                "Next": "WaitCrawler",
            },
            "WaitCrawler": {"Type": "Wait", "SecondsPath": "$.config.wait", "Next": "GetCrawler"},
            "GetCrawler": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:glue:getCrawler",
                "Parameters": {"Name.$": "$.config.crawler"},
                "ResultPath": "$.crawler",
                "Next": "CountPoll",
            },
            "CountPoll": {
                "Type": "Pass",
                "Parameters": {"polls.$": "States.MathAdd($.config.polls, 1)"},
                "ResultPath": "$.count",
                "Next": "CrawlerDone?",
            },
            "CrawlerDone?": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.crawler.Crawler.State", "StringEquals": "READY"},
                            {"Variable": "$.crawler.Crawler.LastCrawl.Status", "StringEquals": "SUCCEEDED"},
                        ],
                        "Next": "RunJob",
                    },
                    {"Variable": "$.count.polls", "NumericGreaterThanEquals": 15, "Next": "CrawlerTooSlow"},
                ],
                "Default": "KeepCount",
            },
            "KeepCount": {
                "Type": "Pass",
                "Parameters": {
                    "crawler.$": "$.config.crawler",
                    "job.$": "$.config.job",
                    "wait": 1,
                    "polls.$": "$.count.polls",
                },
                "ResultPath": "$.config",
                "Next": "WaitCrawler",
            },
            "CrawlerTooSlow": {"Type": "Fail", "Error": "CrawlerTooSlow"},
            "RunJob": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName.$": "$.config.job"},
                "ResultPath": "$.job",
                "Retry": [{"ErrorEquals": ["Glue.ConcurrentRunsExceededException"], "IntervalSeconds": 1}],
                "Next": "JobSucceeded?",
            },
            "JobSucceeded?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.job.JobRunState", "StringEquals": "SUCCEEDED", "Next": "Announce"}],
                "Default": "JobFailed",
            },
            "JobFailed": {"Type": "Fail", "Error": "JobFailed"},
            "Announce": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {
                    "TopicArn": topic,
                    "Message.$": "States.Format('job {} finished: {}', $.job.JobName, $.job.JobRunState)",
                },
                "ResultPath": None,
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }


def test_pipeline_shaped_machine_succeeds_and_announces(aws, glue_job, topic_queue):
    """Needs the Glue emulation (crawls end, job runs run their script)."""
    topic, receive = topic_queue
    bucket = unique("raw")
    aws("s3").create_bucket(Bucket=bucket)
    aws("s3").put_object(Bucket=bucket, Key="raw/date=2024-01-05/flights.csv", Body=b"Carrier,DepDelay\nAA,3\n")
    crawler = unique("crawler")
    aws("glue").create_database(DatabaseInput={"Name": crawler})
    aws("glue").create_crawler(
        Name=crawler, Role=ROLE, DatabaseName=crawler, Targets={"S3Targets": [{"Path": f"s3://{bucket}/raw/"}]}
    )
    result = run(aws, pipeline_definition(crawler, glue_job, topic), timeout=40)
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))
    job = json.loads(result["output"])["job"]
    assert receive() == [f"job {glue_job} finished: {job['JobRunState']}"]


def test_optimised_integration_errors_carry_aws_names(aws):
    missing_topic = f"arn:aws:sns:us-east-1:123456789012:{unique('absent')}"
    sns_error = caught_error(aws, "arn:aws:states:::sns:publish", {"TopicArn": missing_topic, "Message": "hi"})
    assert sns_error["Error"] == "SNS.NotFoundException"
    glue_error = caught_error(aws, "arn:aws:states:::glue:startJobRun.sync", {"JobName": unique("absent")})
    assert glue_error["Error"] == "Glue.EntityNotFoundException"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("$.rows[0][1].v", "b"),  # definite: the value itself
        ("$.rows[1]", [{"v": "c"}]),
        ("$.rows[*][0].v", ["a", "c"]),  # wildcard: always a list
        ("$.rows[0][0:1]", [{"v": "a"}]),  # slice
        ("$..v", ["a", "b", "c"]),  # deep scan
        ("$.rows[?(@[0].v == 'c')]", [[{"v": "c"}]]),  # filter
        ("$.rows[5][*]", []),  # indefinite and empty: an empty list, not an error
    ],
)
def test_json_paths_select_like_step_functions(path, expected):
    data = {"rows": [[{"v": "a"}, {"v": "b"}], [{"v": "c"}]]}
    assert stepfunctions.extract_json(path, data) == expected


def test_a_missing_definite_path_is_an_error():
    from moto.stepfunctions.parser.asl.utils.json_path import NoSuchJsonPathError

    with pytest.raises(NoSuchJsonPathError):
        stepfunctions.extract_json("$.rows[3].v", {"rows": []})


# ---------------------------------------------------------------- the execution APIs (doc: StartExecution,
# StopExecution, ListExecutions in the AWS Step Functions API Reference)

WAIT_OR_END = {
    "StartAt": "How?",
    "States": {
        "How?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.how", "StringEquals": "wait", "Next": "Wait"},
                {"Variable": "$.how", "StringEquals": "fail", "Next": "Fail"},
            ],
            "Default": "Done",
        },
        "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Done"},
        "Fail": {"Type": "Fail", "Error": "Asked", "Cause": "the input asked for it"},
        "Done": {"Type": "Succeed"},
    },
}


def wait_or_end_machine(aws) -> str:
    return aws("stepfunctions").create_state_machine(
        name=unique("sm"), definition=json.dumps(WAIT_OR_END), roleArn=ROLE
    )["stateMachineArn"]


@pytest.mark.parametrize("name", ["a" * 80, "daily-2024-01-05_run.1", "émission"])
def test_valid_execution_names_are_accepted(aws, name):
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=wait_or_end_machine(aws), name=name, input="{}")["executionArn"]
    assert arn.endswith(":" + name)
    assert wait_until_ended(sfn, arn)["name"] == name


@pytest.mark.parametrize(
    "name, code",
    [
        ("a" * 81, "ValidationException"),  # Length Constraints: Minimum length of 1. Maximum length of 80.
        ("", "ValidationException"),
        ("two words", "InvalidName"),  # must not contain whitespace, brackets, wildcards, special characters
        ("date=2024-01-05/run", "InvalidName"),
        ("run{1}", "InvalidName"),
        ("tab\there", "InvalidName"),  # control characters
    ],
)
def test_invalid_execution_names_are_refused(local_stack, aws, name, code):
    # botocore refuses "" itself; switch its validation off so the server is what answers.
    sfn = boto3.client("stepfunctions", region_name=local_stack.ctx.region, config=Config(parameter_validation=False))
    machine = wait_or_end_machine(aws)
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine, name=name, input="{}")
    assert refused.value.response["Error"]["Code"] == code
    assert sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_stop_execution_sets_the_stop_date(aws):
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=wait_or_end_machine(aws), input='{"how": "wait"}')["executionArn"]
    stopped = sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    assert described["stopDate"] == stopped["stopDate"]
    assert described["startDate"] <= described["stopDate"]
    (aborted,) = [e for e in sfn.get_execution_history(executionArn=arn)["events"] if e["type"] == "ExecutionAborted"]
    assert aborted["executionAbortedEventDetails"] == {"error": "Operator", "cause": "stopped by hand"}
    (listed,) = sfn.list_executions(stateMachineArn=described["stateMachineArn"])["executions"]
    assert listed["status"] == "ABORTED" and listed["stopDate"] == stopped["stopDate"]


@pytest.mark.parametrize(
    "slow_step",
    [
        (ExecutionWorker, "_get_evaluation_entrypoint"),
        (context.StackThread, "start"),
        (StateChoice, "_eval_state_output"),
    ],
    ids=["parsing the definition", "starting the program's thread", "leaving the first state"],
)
def test_a_stop_sent_before_the_engine_runs_still_aborts_with_its_event(aws, monkeypatch, slow_step):
    # StopExecution right after StartExecution: the engine's threads may not have reached the first Wait yet.
    owner, name = slow_step
    step = getattr(owner, name)

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return step(*args, **kwargs)

    monkeypatch.setattr(owner, name, slow)
    sfn = aws("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=wait_or_end_machine(aws), input='{"how": "wait"}')["executionArn"]
    stopped = sfn.stop_execution(executionArn=arn, error="Operator", cause="stopped at once")
    assert sfn.describe_execution(executionArn=arn)["stopDate"] == stopped["stopDate"]
    events = sfn.get_execution_history(executionArn=arn)["events"]
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionAborted"
    assert events[-1]["executionAbortedEventDetails"] == {"error": "Operator", "cause": "stopped at once"}


def test_list_executions_filters_by_status(aws):
    sfn = aws("stepfunctions")
    machine = wait_or_end_machine(aws)
    started = {how: [] for how in ("wait", "fail", "end", "stop")}
    for how, count in (("wait", 2), ("fail", 1), ("end", 3), ("stop", 1)):
        for _ in range(count):
            payload = json.dumps({"how": "wait" if how == "stop" else how})
            started[how].append(sfn.start_execution(stateMachineArn=machine, input=payload)["executionArn"])
    for arn in started["fail"] + started["end"]:
        wait_until_ended(sfn, arn)
    sfn.stop_execution(executionArn=started["stop"][0])

    def listed(status: str) -> set[str]:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine, statusFilter=status)
        return {execution["executionArn"] for page in pages for execution in page["executions"]}

    assert listed("RUNNING") == set(started["wait"])
    assert listed("FAILED") == set(started["fail"])
    assert listed("SUCCEEDED") == set(started["end"])
    assert listed("ABORTED") == set(started["stop"])
    assert listed("TIMED_OUT") == set()
    everything = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(everything) == 7
    for arn in started["wait"]:
        sfn.stop_execution(executionArn=arn)


def test_state_machines_created_by_cloudformation_run(aws):
    """CloudFormation's AWS::StepFunctions::StateMachine lands where the executing engine looks."""
    name = unique("cfn-sm")
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": name,
                    "RoleArn": ROLE,
                    "DefinitionString": json.dumps(WAIT_OR_END),
                },
            }
        },
        "Outputs": {"Arn": {"Value": {"Ref": "Machine"}}},
    }
    cfn, sfn = aws("cloudformation"), aws("stepfunctions")
    stack = unique("stack")
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    (output,) = cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]
    arn = output["OutputValue"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["name"] == name
    assert arn in {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    execution = sfn.start_execution(stateMachineArn=arn, input='{"how": "end"}')["executionArn"]
    assert wait_until_ended(sfn, execution)["status"] == "SUCCEEDED"
    cfn.delete_stack(StackName=stack)
    with pytest.raises(ClientError) as gone:
        sfn.describe_state_machine(stateMachineArn=arn)
    assert gone.value.response["Error"]["Code"] == "StateMachineDoesNotExist"


# ---------------------------------------------------------------- errors of Parallel branches and Map iterations
# (doc: "Handling errors in Step Functions workflows": a failed branch fails its Parallel state with the branch's
# error; States.ALL does not catch States.Runtime.)


def parallel_around(branch_state: dict, catch: list[str], language: str = "JSONata") -> dict:
    return {
        "QueryLanguage": language,
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "Inner", "States": {"Inner": {**branch_state, "End": True}}}],
                "Catch": [{"ErrorEquals": catch, "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Succeed"},
        },
    }


@pytest.mark.parametrize("catch", [["States.ALL"], ["States.QueryEvaluationError"]])
def test_a_branch_error_named_states_is_caught_by_its_parallel(aws, catch):
    failing = {"Type": "Pass", "Output": "{% $parse('not json') %}"}
    result = run(aws, parallel_around(failing, catch))
    assert result["status"] == "SUCCEEDED", result.get("cause")
    assert [e for e in result["history"] if e["type"] == "ParallelStateFailed"]


def test_a_map_iteration_error_named_states_is_caught_by_its_map(aws):
    each = inline_map("{% [1, 2] %}", "{% $parse('not json') %}")
    assert caught_query_error(aws, each) == "States.QueryEvaluationError"


def test_states_all_does_not_catch_states_runtime(aws):
    failing = {"Type": "Pass", "Parameters": {"parsed.$": "States.StringToJson($.text)"}}
    result = run(aws, parallel_around(failing, ["States.ALL"], language="JSONPath"), {"text": "not json"})
    assert result["status"] == "FAILED"
    assert result["error"] == "States.Runtime"
    assert "Custom Error Names" not in result.get("cause", "")


def test_a_definition_is_parsed_once_and_each_execution_gets_its_own_program(aws, monkeypatch):
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

    parses = []
    original = ASLParser.state_machine
    monkeypatch.setattr(ASLParser, "state_machine", lambda self: parses.append(1) or original(self))
    definition = {"StartAt": "Double", "States": {"Double": {
        "Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "End": True}}}
    outputs = [json.loads(run(aws, definition, {"n": n})["output"]) for n in (2, 5)]
    assert outputs == [{"n": 4}, {"n": 10}]
    assert len(parses) <= 2  # the engine's and the validator's parse at creation; none per execution
    text = json.dumps(definition)
    first, second = stepfunctions.parse_definition(text), stepfunctions.parse_definition(text)
    assert first[1] is second[1] and first[0] is not second[0]
