"""Step Functions' JSONata, evaluated by jsonata-python (a maintained port of JSONata 2.x).

moto's engine (LocalStack's) parses `"QueryLanguage": "JSONata"` states — `Arguments`, `Output`, `Assign`,
`Condition`, `Items`, Catch `Output` — but ships without the evaluator it calls (a JVM bridge), so every
expression fails with `'NoneType' object is not callable`. moto also evaluates by pasting every variable's
JSON into the expression text, which breaks on a string holding a quote. Here each `{% … %}` expression is
parsed by jsonata-python and evaluated with the data bound as JSONata variables:

* `$states` = {input, context, result, errorOutput} (only the parts the expression names), and the
  workflow variables (`Assign`) the expression names — in JSONPath states too (`"x.$": "$myVar"`);
* the functions Step Functions adds: `$partition`, `$range`, `$hash`, `$random([seed])`, `$uuid`, `$parse`;
  `$eval` is not available, as on AWS.

An expression that fails, or returns nothing (undefined), fails the state with `States.QueryEvaluationError`
and an `EvaluationFailed` history event, which Retry/Catch can match as on AWS.

AWS docs: "Transforming data with JSONata in Step Functions" (supported functions, `$eval` unavailable),
"Passing data between states with variables", "Handling errors in Step Functions workflows".
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from typing import Any

from jsonata import Jsonata
from jsonata.jexception import JException
from jsonata.utils import Utils
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.query_language import QueryLanguageMode
from moto.stepfunctions.parser.asl.component.common.string.string_expression import (
    StringJSONata,
    StringVariableSample,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.variable_store import NoSuchVariable
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from moto.stepfunctions.parser.asl.jsonata.jsonata import extract_jsonata_variable_references

from flightpipe_local.patches import Patch

UNDEFINED = object()  # what a JSONata expression gives when it selects nothing

_HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


class JSONataError(Exception):
    """An expression could not be parsed or evaluated; the message is the evaluator's."""


def patches() -> list[Patch]:
    return [
        Patch(StringJSONata, "_eval_body", _eval_jsonata_field),
        Patch(StringVariableSample, "_eval_body", _eval_variable_sample),
        Patch(moto_jsonata, "_eval_jsonata", _evaluate_text),  # the evaluator moto lacks, for any other path
    ]


def _evaluate_text(expression: str) -> Any:
    """moto's evaluator interface: a whole expression as text (variables pasted in), undefined as None."""
    try:
        result = evaluate(expression, {})
    except JSONataError as exc:
        raise moto_jsonata.JSONataException("UNKNOWN", str(exc)) from None
    return None if result is UNDEFINED else result


# ---------------------------------------------------------------- evaluation


def evaluate(expression: str, bindings: dict[str, Any]) -> Any:
    """The value of a JSONata expression with `bindings` as its `$variables` (and no input document):
    JSON-compatible Python data, or UNDEFINED."""
    try:
        compiled = Jsonata(expression)
        compiled.set_output_convert_nulls(False)  # keep JSON null apart from undefined
        result = compiled.evaluate(None, {**step_functions_functions(), **bindings})
    except JException as exc:
        raise JSONataError(str(exc)) from None
    except (TypeError, ValueError, ArithmeticError) as exc:  # raised inside a function, e.g. $parse
        raise JSONataError(str(exc)) from None
    if result is None:
        return UNDEFINED
    return _as_json(result)


def _as_json(value: Any) -> Any:
    if value is Utils.NULL_VALUE or value is None:
        return None
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, (str, bool, int, float)):
        return value
    raise JSONataError("the expression returned a function, which is not a JSON value")


def step_functions_functions() -> dict[str, Any]:
    """The JSONata functions Step Functions adds (doc: "Transforming data with JSONata", JSONata functions)."""
    return {
        "partition": Jsonata.JLambda(_partition),
        "range": Jsonata.JLambda(_range),
        "hash": Jsonata.JLambda(_hash),
        "random": Jsonata.JLambda(_random),
        "uuid": Jsonata.JLambda(lambda: str(uuid.uuid4())),
        "parse": Jsonata.JLambda(_parse),
        "eval": Jsonata.JLambda(_eval_unavailable),
    }


def _partition(array: list, size: int) -> list:
    array, size = list(array or []), int(size)
    if size <= 0:
        raise ValueError("$partition: the chunk size must be a positive number")
    return [array[i : i + size] for i in range(0, len(array), size)]


def _range(first: float, last: float, step: float) -> list:
    if not step:
        raise ValueError("$range: the step must not be 0")
    values, value = [], first
    while (step > 0 and value <= last) or (step < 0 and value >= last):
        values.append(value)
        value += step
    return values


def _hash(value: str, algorithm: str) -> str:
    if algorithm not in _HASH_ALGORITHMS:
        raise ValueError(f"$hash: the algorithm must be one of {', '.join(_HASH_ALGORITHMS)}, not {algorithm!r}")
    return hashlib.new(_HASH_ALGORITHMS[algorithm], str(value).encode()).hexdigest()


def _random(seed: Any = None) -> float:
    return random.Random(seed).random() if seed is not None else random.random()  # noqa: S311 - not for secrets


def _parse(text: str) -> Any:
    return json.loads(text)


def _eval_unavailable(*_: Any) -> None:
    raise ValueError("$eval is not available in Step Functions: use $parse to read JSON text")


# ---------------------------------------------------------------- the engine's expression fields


def _bindings(env, expression: str, with_states: bool) -> dict[str, Any]:
    """`$states` and the workflow variables the expression refers to."""
    bindings: dict[str, Any] = {}
    for reference in extract_jsonata_variable_references(expression):
        name = reference[1:].split(".", 1)[0]
        if name == "states" and with_states:
            bindings["states"] = _states(env)
        elif name and name not in bindings:
            try:
                bindings[name] = env.variable_store.get(name)
            except NoSuchVariable:
                pass  # a function ($uuid), a local binding (`$x := …`) or undefined, as JSONata decides
    return bindings


def _states(env) -> dict[str, Any]:
    states = {"input": env.states.get_input(), "context": env.states.get_context()}
    for key, getter in (("result", env.states.get_result), ("errorOutput", env.states.get_error_output)):
        try:
            states[key] = getter()
        except RuntimeError:  # not available in this field
            pass
    return states


def _evaluate_in_state(env, expression: str, with_states: bool) -> Any:
    try:
        return evaluate(expression, _bindings(env, expression, with_states))  # fresh containers: no aliasing
    except JSONataError as exc:
        raise _query_evaluation_error(
            env, f"The JSONata expression '{expression}' threw an error during evaluation: {exc}"
        ) from None


def _eval_jsonata_field(self: StringJSONata, env) -> None:
    result = _evaluate_in_state(env, self.expression, with_states=True)
    if result is UNDEFINED:
        raise _query_evaluation_error(env, f"The JSONata expression '{self.expression}' returned nothing (undefined).")
    env.stack.append(result)


def _eval_variable_sample(self: StringVariableSample, env) -> None:
    """A `$variable` reference: in a JSONPath state (`"x.$": "$myVar.field"`) or a JSONata one."""
    with_states = self.query_language_mode == QueryLanguageMode.JSONata
    result = _evaluate_in_state(env, self.expression, with_states)
    env.stack.append(None if result is UNDEFINED else result)


def _query_evaluation_error(env, cause: str) -> FailureEventException:
    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    failure = FailureEventException(
        FailureEvent(
            env=env,
            error_name=error_name,
            event_type=HistoryEventType.EvaluationFailed,
            event_details=EventDetails(
                evaluationFailedEventDetails=EvaluationFailedEventDetails(error=error_name.error_name, cause=cause)
            ),
        )
    )
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(evaluationFailedEventDetails=failure.get_evaluation_failed_event_details()),
    )
    return failure
