"""EventBridge: deliver matched events to rule targets as AWS does, Step Functions included.

moto matches events against rules but: cannot deliver to a state machine (NotImplementedError), fires
DISABLED rules, ignores a target's `Input` / `InputPath`, and gives targets `time` as epoch seconds.
Here a matched, ENABLED rule renders each target's input the AWS way (event JSON with ISO-8601 `time`,
or `Input`, `InputPath`, `InputTransformer`) and delivers it:

* Step Functions state machine → StartExecution (unique execution name) with that input;
* SQS queue → a message whose body is that input; CloudWatch Logs group → a log event;
* anything else (archives, other buses, API destinations) → moto's own delivery.

A failing target is logged and skipped: PutEvents (and the S3 write behind a CloudTrail event) succeeds.

Event patterns are matched and validated by `event_patterns.py` (moto's matcher is wrong in places), for
PutRule, delivery and `TestEventPattern` alike; TestEventPattern answers {"Result": bool} (moto: nothing).
"""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid
import warnings
from datetime import UTC, datetime
from typing import Any

from jsonpath_ng.ext import parse as parse_jsonpath
from moto.events.exceptions import InvalidEventPatternException
from moto.events.models import EventPattern, EventPatternParser, Rule
from moto.events.responses import EventsHandler
from moto.logs import logs_backends
from moto.sqs import sqs_backends
from moto.stepfunctions.responses import get_backend as stepfunctions_backend
from moto.utilities.arns import parse_arn

from flightpipe_local import event_patterns
from flightpipe_local.context import StackContext
from flightpipe_local.patches import Patch

log = logging.getLogger(__name__)

_moto_send_to_targets = Rule.send_to_targets
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def patches() -> list[Patch]:
    """Everything this module changes in moto (applied and reverted by `flightpipe_local.patches`)."""
    return [
        Patch(Rule, "send_to_targets", send_to_targets),
        # patterns (event_patterns.py): PutRule, delivery and TestEventPattern agree
        Patch(EventPattern, "matches_event", _pattern_matches_event),
        Patch(EventPatternParser, "parse", _parse_pattern),
        Patch(EventsHandler, "test_event_pattern", _test_event_pattern),
    ]


def install(ctx: StackContext) -> None:
    """Nothing to prepare: delivery needs no state of its own."""


# ---------------------------------------------------------------- patterns (event_patterns.py): PutRule,
# delivery and TestEventPattern agree

_MANDATORY_EVENT_FIELDS = ("id", "account", "source", "time", "region", "resources", "detail-type")


def _parse_pattern(parser: EventPatternParser) -> dict[str, Any]:
    """PutRule / TestEventPattern: refuse what EventBridge refuses (InvalidEventPatternException)."""
    if not parser.pattern:
        return {}
    try:
        event_patterns.validate(event_patterns.load_json(parser.pattern))
    except ValueError:
        raise InvalidEventPatternException(reason="Invalid JSON") from None
    return json.loads(parser.pattern)


def _pattern_matches_event(pattern: EventPattern, event: dict[str, Any]) -> bool:
    if not pattern.get_pattern():
        return True
    if getattr(pattern, "_typed", None) is None:
        pattern._typed = event_patterns.load_json(pattern.dump())
    return event_patterns.matches(pattern._typed, event_patterns.as_json_values(event))


def _test_event_pattern(handler: EventsHandler):
    """TestEventPattern (doc: API_TestEventPattern): {"Result": bool}; the event needs the mandatory fields."""
    pattern = EventPatternParser(handler._get_param("EventPattern")).parse()
    try:
        event = event_patterns.load_json(handler._get_param("Event") or "")
    except ValueError:
        raise InvalidEventPatternException(reason="the Event is not valid JSON") from None
    missing = [name for name in _MANDATORY_EVENT_FIELDS if not isinstance(event, dict) or name not in event]
    if missing:
        raise InvalidEventPatternException(reason=f"the Event lacks mandatory fields: {', '.join(missing)}")
    typed = event_patterns.load_json(json.dumps(pattern))
    return json.dumps({"Result": event_patterns.matches(typed, event)}), handler.response_headers


def send_to_targets(rule: Rule, event: dict[str, Any], transform_input: bool = True) -> None:
    """Replacement for moto's `Rule.send_to_targets`, called by PutEvents for every rule of the bus."""
    if rule.state != "ENABLED" or not rule.event_pattern.matches_event(event):
        return
    for target in list(rule.targets):
        try:
            _deliver(rule, target, event, transform_input)
        except Exception:
            log.exception("rule %s: delivery to target %s failed", rule.arn, target.get("Arn"))


def _deliver(rule: Rule, target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> None:
    arn = parse_arn(target["Arn"])
    if arn.service not in ("states", "sqs", "logs"):
        # moto's delivery for the other target types, one target at a time.
        one_target = copy.copy(rule)
        one_target.targets = [target]
        _moto_send_to_targets(one_target, copy.deepcopy(event), transform_input)
        return
    payload = target_input(rule, target, event)
    if arn.service == "states":
        _start_execution(rule, target["Arn"], payload)
    elif arn.service == "sqs":
        group_id = target.get("SqsParameters", {}).get("MessageGroupId")
        sqs = sqs_backends[arn.account][arn.region]
        if arn.resource_id.endswith(".fifo") and not _content_based_deduplication(sqs, arn.resource_id):
            # "If you specify an SQS FIFO queue as a target, the queue must have content-based deduplication
            # enabled" (EventBridge API reference, Target: SqsParameters): nothing is delivered. The warning is
            # moto's own (same text), so code tested against moto sees the same signal.
            warnings.warn(FIFO_WITHOUT_DEDUPLICATION, stacklevel=2)
            log.warning("rule %s: %s (%s)", rule.name, FIFO_WITHOUT_DEDUPLICATION, target["Arn"])
            return
        sqs.send_message(queue_name=arn.resource_id, message_body=payload, group_id=group_id)
    else:
        logs = logs_backends[arn.account][arn.region]
        group = arn.resource_id.removesuffix(":*")
        stream = str(uuid.uuid4())
        logs.create_log_stream(group, stream)
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": now_ms, "message": payload}])


FIFO_WITHOUT_DEDUPLICATION = (
    "To let EventBridge send messages to your SQS FIFO queue, you must enable content-based deduplication."
)


def _content_based_deduplication(sqs: Any, queue_name: str) -> bool:
    attributes = sqs.get_queue_attributes(queue_name=queue_name, attribute_names=["ContentBasedDeduplication"])
    return attributes.get("ContentBasedDeduplication") == "true"


def _start_execution(rule: Rule, state_machine_arn: str, payload: str) -> None:
    arn = parse_arn(state_machine_arn)
    if not _is_json(payload):
        payload = json.dumps(payload)  # a text template reaches the state machine as a JSON string
    backend = stepfunctions_backend(arn.account, arn.region)
    execution = backend.start_execution(state_machine_arn, name=str(uuid.uuid4()), execution_input=payload)
    log.info("rule %s started %s", rule.name, execution.exec_arn)


def event_as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """The event as targets receive it: moto's internal fields dropped, `time` as ISO-8601 text."""
    delivered = {key: value for key, value in event.items() if key != "ingestion-time"}
    delivered["time"] = _iso_time(event.get("time"))
    return delivered


def target_input(rule: Rule, target: dict[str, Any], event: dict[str, Any]) -> str:
    """The text a target receives: `Input` as given, the `InputPath` selection, the
    `InputTransformer` rendering, or else the whole event."""
    delivered = event_as_delivered(event)
    if target.get("Input") is not None:
        return target["Input"]
    if target.get("InputPath"):
        return json.dumps(_select(target["InputPath"], delivered))
    if target.get("InputTransformer"):
        return render_input_template(rule, target["InputTransformer"], event)
    return json.dumps(delivered)


def render_input_template(rule: Rule, transformer: dict[str, Any], event: dict[str, Any]) -> str:
    """AWS's InputTransformer. In a JSON template a placeholder inside quotes gets the value's text
    (escaped), elsewhere its JSON; in a plain-text template the value's text. Missing paths are null
    (JSON) or empty (text). Reserved: aws.events.rule-arn, rule-name, event, event.json,
    event.ingestion-time."""
    delivered = event_as_delivered(event)
    values = {name: _select(path, delivered) for name, path in transformer.get("InputPathsMap", {}).items()}
    values.update(
        {
            "aws.events.rule-arn": rule.arn,
            "aws.events.rule-name": rule.name,
            "aws.events.event": {k: v for k, v in delivered.items() if k != "detail"},
            "aws.events.event.json": delivered,
            "aws.events.event.ingestion-time": _iso_time(event.get("ingestion-time")),
        }
    )
    template = transformer.get("InputTemplate", "")
    is_json = template.lstrip().startswith(("{", "["))

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        if not is_json:
            return "" if value is None else value if isinstance(value, str) else json.dumps(value)
        if _inside_json_string(template, match.start()):
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)[1:-1]
        return json.dumps(value)

    return _PLACEHOLDER.sub(substitute, template)


def _select(path: str, document: dict[str, Any]) -> Any:
    matches = parse_jsonpath(path).find(document)
    if not matches:
        return None
    if "*" in path or len(matches) > 1:
        return [match.value for match in matches]
    return matches[0].value


def _inside_json_string(text: str, position: int) -> bool:
    quotes, escaped = 0, False
    for char in text[:position]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quotes += 1
    return quotes % 2 == 1


def _iso_time(value: Any) -> str:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
