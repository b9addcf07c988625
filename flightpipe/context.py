"""What every notebook derives from its parameters, in one call: `runbook_context(target, region, project, bucket)`.

It points boto3 at the target, asks STS who is calling (the account id and the partition of every ARN), and
returns the target, the resource names, the ARNs and the warehouse. The same code runs on both targets: only the
target (its endpoint and its waits) differs; names and ARNs follow from the caller's account alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import boto3

from flightpipe import config
from flightpipe.names import Arns, Names


@dataclass(frozen=True)
class RunbookContext:
    target: config.Target
    names: Names
    account_id: str

    @classmethod
    def for_caller(cls, target: config.Target, project: str, caller: dict, bucket: str = "") -> RunbookContext:
        """The context of `caller` (an sts.get_caller_identity() answer) on `target`: no call to AWS."""
        names = Names.for_caller(project, target.region, caller, bucket)
        return cls(target, names, caller["Account"])

    @property
    def region(self) -> str:
        return self.target.region

    @property
    def waits(self) -> config.Waits:
        return self.target.waits

    @cached_property
    def arns(self) -> Arns:
        return Arns(self.names, self.account_id)

    @cached_property
    def secret_arn(self) -> str:
        """The warehouse secret's ARN, looked up once: Secrets Manager ends it with random characters."""
        secret = self.target.client("secretsmanager").describe_secret(SecretId=self.names.redshift_secret)
        return secret["ARN"]

    @cached_property
    def warehouse(self):
        """The project's warehouse, a `flightpipe.warehouse.Warehouse` (its secret must exist: notebook 03)."""
        return config.default_warehouse(self.target, self.names.project, self.secret_arn)

    def __str__(self) -> str:
        return f"target: {self.target.name} | region: {self.region} | bucket: {self.names.bucket}"


def runbook_context(target: str, region: str, project: str, bucket: str = "") -> RunbookContext:
    """Point this process at `target` and derive everything a notebook needs from its parameters."""
    tgt = config.use_target(target, region)
    caller = boto3.client("sts").get_caller_identity()  # the account and partition the names live in
    return RunbookContext.for_caller(tgt, project, caller, bucket)
