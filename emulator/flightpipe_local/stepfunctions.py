"""Step Functions: make moto's state-machine engine run the pipeline's integrations as AWS does.

moto (with `execute_state_machine=True`) interprets definitions with an engine derived from LocalStack's;
each Task calls the target service back over HTTP with boto3. What this module changes:

* Callbacks go to this stack's endpoint (127.0.0.1), not `localhost` (which may resolve to ::1), and
  reuse one boto3 client per (service, region) instead of building one per Task.
* `arn:aws:states:::glue:startJobRun.sync` works: moto crashes after the run ends (it tidies up a
  task-token endpoint Glue never has). We ask GetJobRun when a local run ends, at the latest every
  `SYNC_POLL_SECONDS`, until the run ends:
  SUCCEEDED → the JobRun (with JobName) is the Task's result; FAILED/ERROR/TIMEOUT/STOPPED →
  `States.TaskFailed` with the JobRun JSON (its ErrorMessage included) as Cause, as on AWS.
* Service results are JSON, as on AWS: timestamps become ISO-8601 text and streamed bodies text
  (moto's engine keeps datetime / stream objects, which break its own execution APIs).
* `StartExecution` without a name gets a UUID, as on AWS (moto names it `None`, so a second one clashes);
  a name is validated as AWS does (1–80 characters, no whitespace, brackets, wildcards, special or control
  characters), which moto's engine skips.
* `StopExecution` answers with the stopDate once the execution is ABORTED, its error and cause in the
  ExecutionAborted event, however soon after the start it comes: `stepfunctions_stop.py`.
* `DescribeExecution`'s output is always JSON text (a string result too).
* State machines created by CloudFormation are stored where the executing engine looks for them.
* A definition's syntax tree is parsed once (the engine parsed it again for every execution, ~0.1 s); every
  execution still builds its own evaluation components from it.
* JSONata (`"QueryLanguage": "JSONata"`) and workflow variables: `stepfunctions_jsonata.py`.
* A definite JSONPath (`$.Records[0][1].StringValue`) selects one value; only wildcards, slices, filters
  and `..` select a list, as on AWS (moto returns a list whenever an array index precedes the last step).
* `aws-sdk:<service>:<action>` tasks speak PascalCase both ways, as on AWS: `Parameters: [{"Name": …,
  "Value": …}]` reaches the Data API as `name`/`value`, and results read `$.Records[0][0].StringValue`
  where the API says `stringValue` (moto passes field names through unchanged).
* `aws-sdk:<service>:<action>` tasks: SDK integration names that differ from boto3's are mapped
  (`redshiftdata` → `redshift-data`, ...), and a service error is named `<Service>.<Code>Exception`
  with the service in PascalCase (`Glue.CrawlerRunningException`, `RedshiftData.ValidationException`,
  `S3.NoSuchKeyException`), which is what Retry/Catch `ErrorEquals` match on AWS.
"""

from __future__ import annotations

import functools
import importlib
import re
import threading
import types
import uuid
from datetime import datetime
from typing import Any

import boto3
import botocore.session
import moto.stepfunctions.models
import moto.stepfunctions.responses
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from moto.core.models import botocore_stubber
from moto.stepfunctions.exceptions import ValidationException
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue import (
    StateTaskServiceGlue,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

from flightpipe_local import context, glue_jobs, stepfunctions_jsonata, stepfunctions_stop
from flightpipe_local.context import StackContext
from flightpipe_local.patches import Patch, imported_everywhere

# How often a `.sync` task asks the service whether its job has ended (moto: 0.5 s; AWS: much longer). A
# glue:startJobRun.sync also looks again the moment a local job run ends (`glue_jobs.wait_for_a_run_to_end`),
# so the interval only bounds the wait for what the emulator does not announce.
SYNC_POLL_SECONDS = 0.05

GLUE_RUN_SUCCEEDED = {"SUCCEEDED"}
GLUE_RUN_FAILED = {"FAILED", "ERROR", "TIMEOUT", "STOPPED"}

# `aws-sdk:<name>:...` names whose boto3 service name differs.
SDK_TO_BOTO_SERVICE = {
    "redshiftdata": "redshift-data",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "sfn": "stepfunctions",
}

# Service part of aws-sdk error names: the SDK's PascalCase service name (AWS docs: `AcmPca.…`, `S3.…`).
SDK_ERROR_SERVICE_NAMES = {
    "acmpca": "AcmPca",
    "cloudwatch": "CloudWatch",
    "cloudwatchlogs": "CloudWatchLogs",
    "dynamodb": "DynamoDb",
    "eventbridge": "EventBridge",
    "redshift": "Redshift",
    "redshiftdata": "RedshiftData",
    "secretsmanager": "SecretsManager",
    "sfn": "Sfn",
    "sns": "Sns",
    "sqs": "Sqs",
    "ssm": "Ssm",
}

# Engine modules that import names this module replaces (boto_client_for, extract_json): loaded before patching,
# so that each copy of the name is patched (and reverted).
_ENGINE_MODULES = [
    "moto.stepfunctions.parser.asl.eval.states",
    "moto.stepfunctions.parser.asl.component.intrinsic.argument.argument",
    "moto.stepfunctions.parser.asl.component.common.string.string_expression",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.string_operators",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.numeric",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.boolean_equals",
    "moto.stepfunctions.parser.asl.component.state.choice.comparison.operator.implementations.timestamp_operators",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_factory",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.jsonata.jsonata",
]

# Engine modules that start threads (the execution, its program, Parallel branches, Map iterations, callbacks,
# state timeouts): loaded before patching, so that each one's threads work for the stack that started the execution.
_THREAD_MODULES = [
    "moto.stepfunctions.parser.backend.execution_worker",
    "moto.stepfunctions.parser.asl.component.program.program",
    "moto.stepfunctions.parser.asl.component.test_state.program.test_state_program",
    "moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback",
    "moto.stepfunctions.parser.asl.component.state.exec.execute_state",
]
# `threading` as those modules see it: the same, except that a Thread works for its creator's stack.
_STACK_THREADING = types.ModuleType("threading", "threading, with Thread = context.StackThread")
vars(_STACK_THREADING).update({k: v for k, v in vars(threading).items() if not k.startswith("__")})
_STACK_THREADING.Thread = context.StackThread

_clients_lock = threading.Lock()
_session: boto3.Session | None = None  # one boto3 session: clients are built under _clients_lock
_original_boto_client_for = boto_client.boto_client_for
_moto_aws_sdk_eval_service_task = StateTaskServiceAwsSdk._eval_service_task


def patches() -> list[Patch]:
    """Everything this module changes in moto (applied and reverted by `flightpipe_local.patches`)."""
    for name in _ENGINE_MODULES:
        importlib.import_module(name)
    return [
        *_engine_threads_work_for_their_stack(),
        *imported_everywhere("moto.stepfunctions.parser", boto_client, "boto_client_for", local_boto_client_for),
        *imported_everywhere("moto.stepfunctions.parser", json_path, "extract_json", extract_json),
        Patch(
            StateTaskService,
            "_SERVICE_NAME_SFN_TO_BOTO_OVERRIDES",
            {**StateTaskService._SERVICE_NAME_SFN_TO_BOTO_OVERRIDES, **SDK_TO_BOTO_SERVICE},
        ),
        Patch(state_task_service_callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", SYNC_POLL_SECONDS),
        Patch(StateTaskServiceGlue, "_eval_integration_pattern", _glue_eval_integration_pattern),
        Patch(StateTaskServiceGlue, "_sync_to_start_job_run", _glue_sync_to_start_job_run),
        Patch(StateTaskServiceAwsSdk, "_from_error", _aws_sdk_from_error),
        Patch(StateTaskServiceAwsSdk, "_eval_service_task", _aws_sdk_eval_service_task),
        Patch(StateTaskServiceAwsSdk, "_normalise_parameters", _aws_sdk_request_fields),
        Patch(StateTaskServiceAwsSdk, "_normalise_response", _aws_sdk_result_fields),
        Patch(StepFunctionsParserBackend, "start_execution", _start_execution),
        Patch(AmazonStateLanguageParser, "parse", staticmethod(parse_definition)),
        # Executions run: every Step Functions call (API, CloudFormation, EventBridge targets) reaches moto's
        # executing backend. moto's own switch for it (`execute_state_machine`) would select that backend for
        # the API only, process-wide, and CloudFormation's state machines would live in the other one.
        # (`moto.stepfunctions.stepfunctions_backends` stays: the server finds the service's URLs through it.)
        *(
            Patch(module, "stepfunctions_backends", stepfunctions_parser_backends)
            for module in (moto.stepfunctions.models, moto.stepfunctions.responses)
        ),
        Patch(StepFunctionResponse, "describe_execution", _describe_execution),
        # a failed Parallel branch or Map iteration with a States.* error reaches the state's Catch
        Patch(branches_decl, "CustomErrorName", child_error_name),
        Patch(iteration_worker, "CustomErrorName", child_error_name),
        Patch(ErrorEqualsDecl, "_eval_body", _error_equals),
        *stepfunctions_jsonata.patches(),
        *stepfunctions_stop.patches(),
    ]


_moto_parse = AmazonStateLanguageParser.parse
_syntax_trees: dict[str, Any] = {}  # definition text -> its ANTLR tree (read-only once built)
_syntax_trees_lock = threading.Lock()
SYNTAX_TREES_KEPT = 64


def parse_definition(definition: str) -> tuple[Any, Any]:
    """moto's parse (program, tree) with the tree kept per definition text: the ANTLR parse is the costly
    part and its tree is only read; the program (evaluation components) is built afresh from it each time.
    A definition with syntax errors is not kept: it raises the same ASLParserException every time."""
    tree = _syntax_trees.get(definition)
    if tree is None:
        program, tree = _moto_parse(definition)
        with _syntax_trees_lock:
            if len(_syntax_trees) >= SYNTAX_TREES_KEPT:
                _syntax_trees.pop(next(iter(_syntax_trees)))
            _syntax_trees[definition] = tree
        return program, tree
    return Preprocessor().visit(tree), tree


def _engine_threads_work_for_their_stack() -> list[Patch]:
    """The engine's threads start empty-handed (no context): their SDK calls would go to the first stack of the
    process. They become `StackThread`s, so an execution's calls go to the stack that started it."""
    found = []
    for name in _THREAD_MODULES:
        module = importlib.import_module(name)
        if vars(module).get("threading") is threading:
            found.append(Patch(module, "threading", _STACK_THREADING))
        if vars(module).get("Thread") is threading.Thread:
            found.append(Patch(module, "Thread", context.StackThread))
    return found


def install(ctx: StackContext) -> None:
    """Nothing to prepare: the engine's clients for a stack are built on first use (`local_boto_client_for`)."""


def local_boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    """The engine's client factory, pointed at this stack (or at moto's in-process stubber under
    `mock_aws`). Clients are thread-safe, so one per (service, region) is shared by all executions."""
    if botocore_stubber.enabled:
        return _original_boto_client_for(region, service, state_credentials)
    global _session
    ctx = context.current()
    clients = ctx.service("stepfunctions-clients", dict)
    key = (service, region)
    with _clients_lock:
        if key not in clients:
            _session = _session or boto3.Session()
            clients[key] = _session.client(
                service,
                region_name=region,
                endpoint_url=ctx.endpoint,
                aws_access_key_id="local",
                aws_secret_access_key="local",  # noqa: S106 - the emulator ignores credentials
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=60,
                    read_timeout=300,
                ),
            )
            clients[key].meta.events.register("after-call", _timestamps_as_text)
        return clients[key]


def _timestamps_as_text(parsed: dict, **_) -> None:
    """Service results become state data, which must be JSON: timestamps as ISO-8601 text."""

    def convert(value):
        if isinstance(value, datetime):
            return value.isoformat().replace("+00:00", "Z")
        if isinstance(value, dict):
            return {key: convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        return value

    for key, value in list(parsed.items()):
        parsed[key] = convert(value)


def _aws_sdk_eval_service_task(self: StateTaskServiceAwsSdk, env, *args, **kwargs) -> None:
    """moto's aws-sdk task, with streamed bodies (S3 GetObject) read as text, as AWS returns them."""
    _moto_aws_sdk_eval_service_task(self, env, *args, **kwargs)
    result = env.stack[-1]
    if isinstance(result, dict):
        for key, value in result.items():
            if isinstance(value, StreamingBody):
                result[key] = value.read().decode("utf-8", errors="replace")


# Paths that may select several values: wildcards, slices, filters, deep scans.
_INDEFINITE_PATH = re.compile(r"\[\s*(\*|-?\d*\s*:|\?)|\.\.|\.\*")


@functools.lru_cache(maxsize=1024)
def parsed_json_path(path: str) -> Any:
    """A JSONPath's expression, parsed once per path text (jsonpath_ng builds a parser, ~10 ms, per parse);
    its `find` only reads it."""
    return json_path.parse(path)


def extract_json(path: str, data: Any) -> Any:
    """JSONPath as Step Functions evaluates it: a definite path gives its value, an indefinite one a list."""
    matches = parsed_json_path(path).find(data)
    indefinite = bool(_INDEFINITE_PATH.search(path))
    if not matches:
        if indefinite:
            return []
        raise json_path.NoSuchJsonPathError(json_path=path, data=data)
    if indefinite or len(matches) > 1:
        return [match.value for match in matches]
    return matches[0].value


def sdk_error_name(sdk_service: str, error_code: str) -> str:
    """`aws-sdk` Task error name: `<Service>.<Code>` with an `Exception` suffix (AWS adds it even when
    the service's own code lacks it, e.g. S3's `NoSuchKey` → `S3.NoSuchKeyException`)."""
    service = SDK_ERROR_SERVICE_NAMES.get(sdk_service.lower(), sdk_service[:1].upper() + sdk_service[1:])
    if not error_code.endswith("Exception"):
        error_code += "Exception"
    return f"{service}.{error_code}"


def _aws_sdk_from_error(self: StateTaskServiceAwsSdk, env, ex: Exception) -> FailureEvent:
    if not isinstance(ex, ClientError):
        return super(StateTaskServiceAwsSdk, self)._from_error(env=env, ex=ex)
    error = sdk_error_name(self.resource.api_name, ex.response["Error"].get("Code", "Unknown"))
    metadata = ex.response.get("ResponseMetadata", {})
    service = error.split(".", 1)[0]
    cause = (
        f"{ex.response['Error'].get('Message', '')} (Service: {service}, "
        f"Status Code: {metadata.get('HTTPStatusCode')}, Request ID: {metadata.get('RequestId')})"
    )
    return _task_failed(self, env, error, cause, CustomErrorName(error_name=error))


def _task_failed(task: StateTaskService, env, error: str, cause: str, error_name) -> FailureEvent:
    return FailureEvent(
        env=env,
        error_name=error_name,
        event_type=HistoryEventType.TaskFailed,
        event_details=EventDetails(
            taskFailedEventDetails=TaskFailedEventDetails(
                error=error,
                cause=cause,
                resource=task._get_sfn_resource(),
                resourceType=task._get_sfn_resource_type(),
            )
        ),
    )


def _glue_eval_integration_pattern(
    self: StateTaskServiceGlue, env, resource_runtime_part, normalised_parameters, state_credentials
) -> None:
    """Glue supports only `.sync`: wait for the run without the task-token machinery moto's generic
    version expects. The StartJobRun output is on the stack; the resolver replaces it."""
    sync_resolver = self._build_sync_resolver(env, resource_runtime_part, normalised_parameters, state_credentials)
    outcome = self._eval_sync(
        env=env,
        sync_resolver=sync_resolver,
        timeout_seconds=None,
        callback_endpoint=None,
        heartbeat_endpoint=None,
    )
    env.stack.append(outcome)


def _glue_sync_to_start_job_run(
    self: StateTaskServiceGlue, env, resource_runtime_part, normalised_parameters, state_credentials
):
    started = env.stack.pop()
    job_name, run_id = started["JobName"], started["JobRunId"]
    glue = self._get_glue_client(resource_runtime_part, state_credentials)

    def job_run_if_ended() -> dict | None:
        # GetJobRun again as soon as a local run ends (or after SYNC_POLL_SECONDS), until this one has ended or
        # the execution stops: the answer is GetJobRun's, only the wait between the looks is shorter.
        while env.is_running():
            seen = glue_jobs.runs_ended()
            job_run = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
            if job_run.get("JobRunState") in GLUE_RUN_SUCCEEDED | GLUE_RUN_FAILED:
                break
            glue_jobs.wait_for_a_run_to_end(seen, SYNC_POLL_SECONDS)
        else:
            return None
        job_run["JobName"] = job_name
        state = job_run.get("JobRunState")
        if state in GLUE_RUN_SUCCEEDED:
            return job_run
        if state in GLUE_RUN_FAILED:
            error = StatesErrorNameType.StatesTaskFailed.to_name()
            raise FailureEventException(
                _task_failed(
                    self,
                    env,
                    error,
                    to_json_str(job_run),
                    StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                )
            )
        return None

    return job_run_if_ended


# ---------------------------------------------------------------- aws-sdk field casing
_service_models: dict[str, Any] = {}


def _operation(task: StateTaskServiceAwsSdk):
    service = task._get_boto_service_name()
    if service not in _service_models:
        _service_models[service] = botocore.session.get_session().get_service_model(service)
    action = task.resource.api_action
    return _service_models[service].operation_model(action[:1].upper() + action[1:])


def _to_api_fields(value: Any, shape) -> Any:
    """State data → API request: each structure key is matched case-insensitively to the API's member name."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {name.lower(): (name, member) for name, member in shape.members.items()}
        out = {}
        for key, item in value.items():
            name, member = members.get(key.lower(), (key, None))
            out[name] = _to_api_fields(item, member)
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_api_fields(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _to_api_fields(item, shape.value) for key, item in value.items()}
    return value


def _to_state_fields(value: Any, shape) -> Any:
    """API result → state data: structure keys in PascalCase (map keys and documents untouched)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key[:1].upper() + key[1:]: _to_state_fields(item, shape.members.get(key)) for key, item in value.items()
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_state_fields(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: _to_state_fields(item, shape.value) for key, item in value.items()}
    return value


def _aws_sdk_request_fields(self: StateTaskServiceAwsSdk, parameters: dict, *_, **__) -> None:
    converted = _to_api_fields(parameters, _operation(self).input_shape)
    parameters.clear()
    parameters.update(converted)


def _aws_sdk_result_fields(self: StateTaskServiceAwsSdk, response: Any, *_, **__) -> None:
    if isinstance(response, dict):
        converted = _to_state_fields(response, _operation(self).output_shape)
        response.clear()
        response.update(converted)


_moto_start_execution = StepFunctionsParserBackend.start_execution


def _start_execution(self, state_machine_arn: str, name: str | None = None, *args, **kwargs):
    """A name is validated as AWS does (1–80 characters, none of whitespace, brackets, wildcards, special or
    control characters: InvalidName / ValidationException; moto's engine accepts any); none gets a UUID."""
    if name is not None:
        if name == "":
            raise ValidationException(
                "1 validation error detected: Value '' at 'name' failed to satisfy constraint: "
                "Member must have length greater than or equal to 1"
            )
        self._validate_name(name)
    return _moto_start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)


_moto_describe_execution = StepFunctionResponse.describe_execution


def _describe_execution(self: StepFunctionResponse):
    """An executed machine's `output` is JSON text, whatever its value: a string result is `"text"`, not
    `text` (moto passes a string through as if it were already JSON), and null is `null`."""
    response = _moto_describe_execution(self)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    if isinstance(execution, ParserExecution) and response.result.get("status") == "SUCCEEDED":
        response.result["output"] = to_json_str(execution.output)
    return response


# ---------------------------------------------------------------- errors of Parallel branches and Map iterations

_UNCATCHABLE_BY_ALL = {StatesErrorNameType.StatesRuntime, StatesErrorNameType.StatesStatesDataLimitExceeded}
_moto_error_equals = ErrorEqualsDecl._eval_body


def child_error_name(error_name: str | None = None):
    """The error a failed Parallel branch or Map iteration hands its state: a `States.*` error keeps its name
    (moto wraps every name as a custom error, which refuses the `States.` prefix and crashes, so a branch's
    States.TaskFailed or States.QueryEvaluationError could never be caught)."""
    if isinstance(error_name, str) and error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:
            pass
    return CustomErrorName(error_name=error_name)


def _error_equals(self: ErrorEqualsDecl, env) -> None:
    """`States.ALL` matches every error but States.Runtime and States.DataLimitExceeded, which no Retry or
    Catch on States.ALL handles (doc: "Handling errors in Step Functions workflows", States.ALL)."""
    error_name = env.stack[-1]
    only_all = all(name == ErrorEqualsDecl._STATE_ALL_ERROR for name in self.error_names)
    if only_all and isinstance(error_name, StatesErrorName) and error_name.typ in _UNCATCHABLE_BY_ALL:
        env.stack.pop()
        env.stack.append(False)
        return
    _moto_error_equals(self, env)
