"""StopExecution as AWS answers it: the execution ends ABORTED with an `ExecutionAborted` event carrying the
given error and cause, and the answer is its `stopDate` (Step Functions API Reference, StopExecution;
DescribeExecution: "stopDate — if the execution ended, the date the execution stopped").

moto's engine runs an execution in threads and loses a stop that comes at the wrong moment — a StopExecution
sent just after StartExecution, as an operator's script or a test does:

* before the engine has marked its program running, the stop is dropped and the execution goes on;
* between that and the program's first step, the program is skipped whole: ABORTED, with no end event;
* while a state is finishing, the state's next step fails on the stopped program, and the failure replaces
  the stop: FAILED instead of ABORTED.

Here a stop waits for the engine to be running, the program's body always runs (and records how it ended),
and a stopped program stays stopped.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, ExecutionStatus
from moto.stepfunctions.parser.asl.component.program.program import Program
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse

from flightpipe_local import context
from flightpipe_local.patches import Patch

# How long StopExecution waits for the engine to start or to leave its state (a Wait or a Task returns at once).
STOP_WAIT_SECONDS = 5


def patches() -> list[Patch]:
    return [
        Patch(StepFunctionResponse, "stop_execution", _stop_execution),
        Patch(Program, "eval", _program_eval),
        Patch(Environment, "set_error", _set_error),
    ]


class NotStartedYet(JsonRESTError):
    """A 503 ServiceUnavailable, which botocore retries (Step Functions API Reference, Common Errors)."""

    code = 503


_moto_stop_execution = StepFunctionResponse.stop_execution


def _stop_execution(self: StepFunctionResponse):
    if not isinstance(self.stepfunction_backend, StepFunctionsParserBackend):
        return _moto_stop_execution(self)
    execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
    if execution.exec_status == ExecutionStatus.RUNNING:
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while not _engine_running(execution) and execution.exec_status == ExecutionStatus.RUNNING:
            if time.monotonic() > deadline:
                raise NotStartedYet("ServiceUnavailable", "The execution has not started yet; retry StopExecution.")
            time.sleep(0.01)
        execution.stop(stop_date=datetime.now(UTC), error=self._get_param("error"), cause=self._get_param("cause"))
        while execution.exec_status == ExecutionStatus.RUNNING and time.monotonic() < deadline:
            time.sleep(0.01)  # the engine's thread records the end (status, stopDate) as it leaves its state
    if execution.stop_date is None:
        execution.stop_date = datetime.now(UTC)
    return ActionResult({"stopDate": execution.stop_date})


def _engine_running(execution: Execution) -> bool:
    """The engine parses the definition, makes the environment, then marks its program running: only then does
    a stop reach it (before, `Environment.set_stop` does nothing)."""
    env = execution.exec_worker.env
    return env is not None and env.is_running()


def _program_eval(self: Program, env: Environment) -> None:
    """moto's `Program.eval`, its thread running the program's body directly: moto's thread first asks whether
    the program still runs and skips the body if not, and the body is what records `ExecutionAborted`."""
    timeout = self.timeout_seconds.timeout_seconds if self.timeout_seconds else None
    env.next_state_name = self.start_at.start_at_name
    worker_thread = context.StackThread(target=self._eval_body, args=(env,), daemon=True)
    TMP_THREADS.append(worker_thread)
    worker_thread.start()
    worker_thread.join(timeout=timeout)
    if worker_thread.is_alive():
        env.set_timed_out()


_moto_set_error = Environment.set_error


def _set_error(self: Environment, error: ExecutionFailedEventDetails) -> None:
    """A stopped program stays stopped: the state that was running when the stop came fails on it (it can no
    longer name its next state), and moto let that failure replace the stop."""
    if isinstance(self._program_state, ProgramStopped):
        return
    _moto_set_error(self, error)
