"""Request validation of the local Data API: what AWS refuses, refused with AWS's exception.

Constraints come from the Data API Reference (its shapes: UUID, ClusterIdentifierString, PageSize, SqlList,
SqlParameter ...) and from "Considerations when calling the Amazon Redshift Data API" (Redshift Management
Guide: a statement is at most 100 KB). Constraint violations read as AWS's standard validation message,
"1 validation error detected: Value 'x' at 'member' failed to satisfy constraint: ...".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.redshiftdata.exceptions import ValidationException

# The statement id pattern and its message as the Data API answers them (ValidationException).
STATEMENT_ID = re.compile(r"^[a-z0-9]{8}(-[a-z0-9]{4}){3}-[a-z0-9]{12}(:\d+)?$")
STATEMENT_ID_MESSAGE = "id must satisfy regex pattern: ^[a-z0-9]{8}(-[a-z0-9]{4}){3}-[a-z0-9]{12}(:\\d+)?$"
CLUSTER_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
WORKGROUP = re.compile(
    r"^([a-z0-9-]{3,63}|arn:(aws(-[a-z]+)*):redshift-serverless:[a-z0-9-]+:\d{12}:workgroup/[a-z0-9/-]+)$")
PARAMETER_NAME = re.compile(r"^[0-9a-zA-Z_]+$")
MAX_SQL_BYTES = 100 * 1024  # "The maximum query statement size is 100 KB."
MAX_BATCH = 40  # SqlList: at most 40 statements
MAX_ACTIVE = 500  # "The maximum number of active queries (STARTED and SUBMITTED queries) per cluster is 500."
STATUSES = ("SUBMITTED", "PICKED", "STARTED", "FINISHED", "ABORTED", "FAILED", "ALL")
RESULT_FORMATS = ("JSON", "CSV")


class ResourceNotFoundException(JsonRESTError):
    """The Data API's ResourceNotFoundException, with its required ResourceId member."""

    def __init__(self, resource_id: str):
        super().__init__("ResourceNotFoundException", "Query does not exist.")
        body = json.loads(self.description)
        body["ResourceId"] = resource_id
        self.description = json.dumps(body)


class ActiveStatementsExceededException(JsonRESTError):
    def __init__(self, limit: int):
        super().__init__("ActiveStatementsExceededException",
                         f"The number of active statements exceeds the limit of {limit} for this cluster or "
                         "workgroup: wait for some to finish, or cancel them.")


class InternalServerException(JsonRESTError):
    code = 500

    def __init__(self, message: str):
        super().__init__("InternalServerException", message)


def constraint(member: str, value: Any, rule: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: Member must {rule}")


def statement_id(value: Any) -> tuple[str, int | None]:
    """The statement id and, for `<id>:N`, the sub-statement number N (None for the statement itself)."""
    if not isinstance(value, str) or not STATEMENT_ID.match(value):
        raise ValidationException(STATEMENT_ID_MESSAGE)
    base, _, number = value.partition(":")
    return base, int(number) if number else None


def target(cluster: str | None, workgroup: str | None) -> str:
    """ClusterIdentifier or WorkgroupName: exactly one of them, well formed."""
    if cluster and workgroup:
        raise ValidationException("ClusterIdentifier and WorkgroupName cannot both be provided: give one of them.")
    if not cluster and not workgroup:
        raise ValidationException("Either ClusterIdentifier, WorkgroupName or SessionId must be provided.")
    if cluster:
        if len(cluster) > 63:
            raise constraint("clusterIdentifier", cluster, "have length less than or equal to 63")
        if not CLUSTER_ID.match(cluster):
            raise constraint("clusterIdentifier", cluster,
                             "satisfy regular expression pattern: [a-z][a-z0-9]*(-[a-z0-9]+)*")
        return cluster
    assert workgroup is not None
    if not WORKGROUP.match(workgroup) or len(workgroup) > 128:
        raise constraint("workgroupName", workgroup, "satisfy regular expression pattern: [a-z0-9-]{3,63} or a "
                         "workgroup ARN")
    return workgroup.rsplit("/", 1)[-1]  # an ARN names the workgroup at its end


def database(name: Any) -> str:
    if not name:
        raise ValidationException("Database is required to run a statement.")
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").replace("$", "").isalnum():
        raise ValidationException(f"Invalid database name: {name}")
    return name


def sql(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationException("Sql must contain a statement.")
    if len(text.encode()) > MAX_SQL_BYTES:
        raise ValidationException("Cannot process query string larger than 100kB")
    return text


def sqls(texts: Any) -> list[str]:
    if not isinstance(texts, list) or not texts:
        raise constraint("sqls", texts, "have length greater than or equal to 1")
    if len(texts) > MAX_BATCH:
        raise constraint("sqls", f"[{len(texts)} statements]", f"have length less than or equal to {MAX_BATCH}")
    return [sql(text) for text in texts]


def parameters(values: Any) -> list[dict[str, str]]:
    """SqlParametersList: at least one, each a name (letters, digits, _) and a non-empty string value."""
    if values is None:
        return []
    if not isinstance(values, list) or not values:
        raise constraint("parameters", values, "have length greater than or equal to 1")
    for number, item in enumerate(values, start=1):
        name, value = (item.get("name"), item.get("value")) if isinstance(item, dict) else (None, None)
        if not isinstance(name, str) or not PARAMETER_NAME.match(name):
            raise constraint(f"parameters.{number}.member.name", name,
                             "satisfy regular expression pattern: [0-9a-zA-Z_]+")
        if not isinstance(value, str) or not value:
            raise constraint(f"parameters.{number}.member.value", value, "have length greater than or equal to 1")
    return values


def one_of(member: str, value: Any, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise constraint(member, value, f"satisfy enum value set: [{', '.join(allowed)}]")
    return value


def page_size(value: Any, maximum: int, default: int) -> int:
    """MaxResults: 0..maximum; 0 or absent means the default page."""
    if value is None:
        return default
    if not isinstance(value, int) or value < 0:
        raise constraint("maxResults", value, "have value greater than or equal to 0")
    if value > maximum:
        raise constraint("maxResults", value, f"have value less than or equal to {maximum}")
    return value or default


def encode_token(kind: str, offset: int) -> str:
    """NextToken: opaque to callers, bound to the action that issued it."""
    return base64.urlsafe_b64encode(json.dumps({"k": kind, "o": offset}).encode()).decode()


def decode_token(kind: str, token: Any) -> int:
    if not token:
        return 0
    try:
        body = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        if body["k"] == kind and isinstance(body["o"], int) and body["o"] >= 0:
            return body["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        pass
    raise ValidationException("The NextToken is invalid: pass the NextToken of the previous response unchanged.")


def not_emulated(get_param) -> None:
    """Refuse, in plain words, the ExecuteStatement options whose effect the local stack does not reproduce."""
    if get_param("SessionId") is not None or get_param("SessionKeepAliveSeconds") is not None:
        raise ValidationException("The local stack does not emulate Data API sessions: run the statement without "
                                  "SessionId and SessionKeepAliveSeconds.")
    if get_param("ExecutionMode") not in (None, "TRANSACTION"):
        raise ValidationException("The local stack runs a batch as one transaction only: leave ExecutionMode "
                                  "out or set it to TRANSACTION.")
    if get_param("WithEvent"):
        raise ValidationException("The local stack does not send Data API events to EventBridge: leave WithEvent "
                                  "out or set it to false.")


def client_token(token: Any) -> str:
    if not isinstance(token, str) or not 1 <= len(token) <= 64:
        raise constraint("clientToken", token, "have length less than or equal to 64")
    return token


def wait_time(value: Any) -> int | None:
    """WaitTimeSeconds: 1..30 seconds to wait for the statement before answering."""
    if value is None:
        return None
    if not isinstance(value, int) or not 1 <= value <= 30:
        raise constraint("waitTimeSeconds", value, "have value between 1 and 30")
    return value
