"""Plain words, not a boto3 traceback, when a notebook needs resources that nobody has created yet.

The daily, backfill, chart and check notebooks call `require_provisioned(names, account_id)` right after
deriving the names. It asks the services for the few resources every later cell relies on and, if any is
missing, raises one short `NotProvisioned` error saying what to run. IPython shows `_render_traceback_()`
instead of a traceback, so JupyterLab shows just that line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError

from flightpipe.config import DEFAULT_PROJECT
from flightpipe.names import Names

# The error codes each service answers for "no such resource" (HeadBucket has no body, hence "404").
NOT_FOUND = {
    "404", "NoSuchBucket", "NotFound",
    "StateMachineDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
    "ResourceNotFoundException",
}


class PlainError(RuntimeError):
    """An error whose message says all a person needs: notebooks and the CLI show it without a traceback."""

    def _render_traceback_(self) -> list[str]:  # IPython: show the message alone
        return [f"{type(self).__name__}: {self}"]


class NotProvisioned(PlainError):
    """Resources of the project are missing: provision first."""


class StackNotAnswering(PlainError):
    """The endpoint in use does not answer (the local stack was stopped)."""


def missing_resources(names: Names, account_id: str, region: str) -> list[str]:
    """The resources of `names` that do not exist, in provisioning order."""
    session = boto3.Session(region_name=region)
    s3, sfn = session.client("s3"), session.client("stepfunctions")
    sqs, secrets = session.client("sqs"), session.client("secretsmanager")
    sm_arn = dataclasses.replace(names, region=region).state_machine_arn(account_id)  # in the partition too
    probes: list[tuple[str, Callable[[], object]]] = [
        (f"bucket {names.bucket}", lambda: s3.head_bucket(Bucket=names.bucket)),
        (f"secret {names.redshift_secret}", lambda: secrets.describe_secret(SecretId=names.redshift_secret)),
        (f"queue {names.queue}", lambda: sqs.get_queue_url(QueueName=names.queue)),
        (f"state machine {names.state_machine}", lambda: sfn.describe_state_machine(stateMachineArn=sm_arn)),
    ]
    missing = []
    for what, probe in probes:
        try:
            probe()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in NOT_FOUND:
                raise
            missing.append(what)
        except EndpointConnectionError as exc:
            raise StackNotAnswering(f"{exc.kwargs.get('endpoint_url', 'the endpoint')} does not answer: "
                                    "start the local stack with `flightpipe local start`") from None
    return missing


def provision_hint(project: str, notebooks: bool = True) -> str:
    """What to run to provision `project` (a project other than the default is named by `-p project`)."""
    other = "" if project == DEFAULT_PROJECT else f" -p project {project}"
    return f"run `flightpipe run provision{other}`" + (" or notebooks 01–08" if notebooks else "") + " first"


def require_provisioned(names: Names, account_id: str, region: str | None = None) -> None:
    """Raise `NotProvisioned` naming what is missing and what to run, if the pipeline is not provisioned."""
    missing = missing_resources(names, account_id, region or names.region)
    if missing:
        what = ", ".join(missing)
        raise NotProvisioned(f"project {names.project!r} is not provisioned (no {what}): "
                             f"{provision_hint(names.project)}")
