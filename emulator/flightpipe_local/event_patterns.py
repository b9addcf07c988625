"""EventBridge event patterns, matched and validated as the EventBridge User Guide describes them.

Sources: "Creating event patterns", "Comparison operators for use in event patterns" (content filtering),
"Arrays in event patterns" (EventBridge User Guide) and the API reference of TestEventPattern.

moto's matcher gets several cases wrong, and PutRule, TestEventPattern and delivery must agree, so all three
use this one:
* an unknown operator (`{"prefixx": …}`) or a wrongly typed one is refused with InvalidEventPatternException
  (moto accepts it and then matches every event);
* values match by JSON type and text: `true` is not `1`, `"5"` is not `5`, and 300 is not 300.0 ("number
  matching is at the string representation level"); numeric operators compare numbers;
* an array in the event matches when any element does, objects in arrays included
  (`{"resources": {"type": [...]}}` against `"resources": [{"type": …}, …]`), which moto never looks into.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from moto.events.exceptions import InvalidEventPatternException

_MISSING = object()
_NUMERIC_OPERATORS = {"<", "<=", "=", ">=", ">"}
_STRING_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "wildcard"}


class Number:
    """A JSON number as written: equal to another only with the same text; `value` for numeric operators."""

    def __init__(self, text: str):
        self.text = text
        self.value = float(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Number) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return self.text


def load_json(text: str) -> Any:
    """JSON with numbers as `Number` (their text kept)."""
    return json.loads(text, parse_int=Number, parse_float=Number)


def as_json_values(data: Any) -> Any:
    """Python data (an event as moto holds it) with numbers as `Number`."""
    return load_json(json.dumps(data, default=str))


# ---------------------------------------------------------------- validation


def validate(pattern: Any) -> None:
    """Raise InvalidEventPatternException unless `pattern` (parsed JSON) is a valid event pattern."""
    if not isinstance(pattern, dict):
        raise _invalid("the event pattern must be a JSON object")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(p, dict) for p in value):
                raise _invalid("$or must be an array of at least two patterns")
            for alternative in value:
                validate(alternative)
        elif isinstance(value, dict):
            validate(value)
        elif isinstance(value, list):
            if not value:
                raise _invalid(f"'{key}': empty arrays are not allowed")
            for item in value:
                _validate_filter(key, item)
        else:
            raise _invalid(f"'{key}' must be an object or an array")


def _validate_filter(key: str, item: Any) -> None:
    if item is None or isinstance(item, (str, bool, Number)):
        return
    if not isinstance(item, dict) or len(item) != 1:
        raise _invalid(f"'{key}': a match is a value or an object with one operator")
    ((operator, argument),) = item.items()
    if operator in _STRING_OPERATORS:
        _validate_string_argument(key, operator, argument)
    elif operator == "anything-but":
        _validate_anything_but(key, argument)
    elif operator == "numeric":
        _validate_numeric(key, argument)
    elif operator == "exists":
        if not isinstance(argument, bool):
            raise _invalid(f"'{key}': exists match pattern must be either true or false")
    elif operator == "cidr":
        try:
            ipaddress.ip_network(argument if isinstance(argument, str) else "")
        except ValueError:
            raise _invalid(f"'{key}': malformed CIDR, one '/' required") from None
    else:
        raise _invalid(f"'{key}': unrecognized match type {operator}")


def _validate_string_argument(key: str, operator: str, argument: Any) -> None:
    if operator in ("prefix", "suffix") and isinstance(argument, dict):
        if list(argument) != ["equals-ignore-case"] or not isinstance(argument["equals-ignore-case"], str):
            raise _invalid(f"'{key}': {operator} match pattern must be a string or equals-ignore-case")
        return
    if not isinstance(argument, str):
        raise _invalid(f"'{key}': {operator} match pattern must be a string")


def _validate_anything_but(key: str, argument: Any) -> None:
    if isinstance(argument, dict):
        if len(argument) != 1 or next(iter(argument)) not in _STRING_OPERATORS:
            raise _invalid(f"'{key}': anything-but takes values, prefix, suffix, wildcard or equals-ignore-case")
        ((operator, inner),) = argument.items()
        values = inner if isinstance(inner, list) and operator in ("equals-ignore-case", "wildcard") else [inner]
        for value in values:
            _validate_string_argument(key, operator, value)
    elif isinstance(argument, list):
        if not argument or any(isinstance(v, (dict, list)) for v in argument):
            raise _invalid(f"'{key}': anything-but's array must hold values only")
    elif isinstance(argument, (dict, list)) or argument is None:
        raise _invalid(f"'{key}': anything-but takes a value or an array of values")


def _validate_numeric(key: str, argument: Any) -> None:
    pairs = list(zip(argument[::2], argument[1::2], strict=False)) if isinstance(argument, list) else []
    if not pairs or len(argument) % 2 or len(pairs) > 2:
        raise _invalid(f"'{key}': numeric takes one or two operator and number pairs")
    for operator, value in pairs:
        if operator not in _NUMERIC_OPERATORS or not isinstance(value, Number):
            raise _invalid(f"'{key}': numeric needs an operator (<, <=, =, >=, >) and a number")


def _invalid(reason: str) -> InvalidEventPatternException:
    return InvalidEventPatternException(reason=reason)


# ---------------------------------------------------------------- matching


def matches(pattern: dict, event: dict) -> bool:
    """Whether `event` matches `pattern` (both parsed with numbers as `Number`)."""
    for key, wanted in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in wanted):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(wanted, dict):
            candidates = value if isinstance(value, list) else [value]
            if not any(isinstance(c, dict) and matches(wanted, c) for c in candidates):
                return False
        elif not _field_matches(value, wanted):
            return False
    return True


def _field_matches(value: Any, filters: list) -> bool:
    if isinstance(value, dict):
        value = _MISSING  # patterns match leaves only
    values = value if isinstance(value, list) else [value]
    for item in filters:
        if isinstance(item, dict):
            ((operator, argument),) = item.items()
            if operator == "exists":
                if (value is not _MISSING) == argument:
                    return True
            elif any(_operator_matches(operator, argument, v) for v in values if v is not _MISSING):
                return True
        elif any(_same(v, item) for v in values):
            return True
    return False


def _same(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(wanted, bool) and value == wanted
    return type(value) is type(wanted) and value == wanted


def _operator_matches(operator: str, argument: Any, value: Any) -> bool:
    if operator == "anything-but":
        if isinstance(argument, dict):
            ((inner, inner_argument),) = argument.items()
            options = inner_argument if isinstance(inner_argument, list) else [inner_argument]
            return isinstance(value, str) and not any(_operator_matches(inner, o, value) for o in options)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_same(value, e) for e in excluded)
    if operator == "numeric":
        if not isinstance(value, Number):
            return False
        pairs = zip(argument[::2], argument[1::2], strict=True)
        return all(_compare(value.value, op, bound.value) for op, bound in pairs)
    if operator == "cidr":
        try:
            return isinstance(value, str) and ipaddress.ip_address(value) in ipaddress.ip_network(argument)
        except ValueError:
            return False
    if not isinstance(value, str):
        return False
    if isinstance(argument, dict):  # prefix / suffix with equals-ignore-case
        argument, value = argument["equals-ignore-case"].lower(), value.lower()
    if operator == "prefix":
        return value.startswith(argument)
    if operator == "suffix":
        return value.endswith(argument)
    if operator == "equals-ignore-case":
        return value.lower() == argument.lower()
    return _wildcard(argument).fullmatch(value) is not None


def _compare(value: float, operator: str, bound: float) -> bool:
    return {
        "<": value < bound,
        "<=": value <= bound,
        "=": value == bound,
        ">=": value >= bound,
        ">": value > bound,
    }[operator]


def _wildcard(pattern: str) -> re.Pattern:
    """`*` matches any run of characters; `\\*` is a literal star."""
    parts = re.split(r"(\\\*|\*)", pattern)
    return re.compile("".join(".*" if p == "*" else re.escape("*" if p == "\\*" else p) for p in parts), re.DOTALL)
