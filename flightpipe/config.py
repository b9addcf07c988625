"""The one seam between the `aws` and `local` targets.

Everything else (notebooks, the Glue job, SQL, the state machine) is identical for both targets. Choosing
`local` only means: boto3 (and any library built on it) talks to the emulator at `http://127.0.0.1:PORT`,
with placeholder credentials, instead of the real AWS endpoints. That is done through the standard `AWS_ENDPOINT_URL`
environment variable, which boto3 honours for every service.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import boto3

TARGETS = ("local", "aws")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGION = "us-east-1"
DEFAULT_PROJECT = "flightpipe"  # the notebooks' `project` parameter
DEFAULT_LOCAL_PORT = 5055
# Placeholder credentials for the emulator: it accepts any value, they grant nothing anywhere.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def state_dir() -> Path:
    """Folder holding the local stack's pid file, log and warehouse file."""
    return Path(os.environ.get("FLIGHTPIPE_HOME", Path.home() / ".flightpipe")).expanduser()


def local_endpoint_file(folder: Path | None = None) -> Path:
    return (folder or state_dir()) / "endpoint"


def running_local_endpoint() -> str | None:
    """The endpoint of the running local stack, as written by `flightpipe local start`, if any."""
    if os.environ.get("FLIGHTPIPE_LOCAL_ENDPOINT"):
        return os.environ["FLIGHTPIPE_LOCAL_ENDPOINT"]
    path = local_endpoint_file()
    return path.read_text().strip() if path.exists() else None


@dataclass(frozen=True)
class Waits:
    """How long to wait for the pipeline's asynchronous steps on a target, and how often to look (seconds).

    Notebooks take these as defaults (a parameter left at None means "the target's value"), so no notebook
    branches on the target. On AWS a crawl alone takes minutes, CloudTrail delivers data events to EventBridge
    with a lag (docs/aws.md, "Delivery lag"), and Step Functions throttles its API per account (Step Functions developer
    guide, "Service quotas", section "Quotas related to API action throttling":
    https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html), so polls are seconds apart there.
    """

    poll: float  # between two looks at an execution, a cluster, a queue
    machine_poll: int  # the state machine's own Wait between crawler / statement polls (PollSeconds)
    execution_start: float  # an upload → its execution appears (CloudTrail → EventBridge delivery)
    execution: float  # one daily execution: crawl, job start, load, notify
    backfill: float  # one backfill execution over many days
    notification: float  # an ended execution → its message in the inbox
    cluster: float  # a Redshift cluster to become available, or to be deleted
    queue_name_reuse: float  # a deleted queue's name can be used again after this long

    def or_default(self, given: float | str | None, field: str) -> float:
        """`given` if the user set one (0 included: a Wait of 0 seconds is valid), else this target's `field`."""
        return float(getattr(self, field)) if given is None or given == "" else float(given)


WAITS = {
    "local": Waits(poll=0.5, machine_poll=1, execution_start=60, execution=300, backfill=900, notification=60,
                   cluster=300, queue_name_reuse=0),  # the local SQS lets a name be reused at once
    # Glue: a crawl takes 1-3 minutes, a Python shell job a minute to start; a cluster takes ~5-15 minutes.
    "aws": Waits(poll=10, machine_poll=30, execution_start=900, execution=1800, backfill=3600, notification=300,
                 cluster=2700, queue_name_reuse=61),  # SQS DeleteQueue: "wait at least 60 seconds"
}


@dataclass(frozen=True)
class Target:
    name: str
    region: str
    endpoint_url: str | None  # None on `aws`: the SDK's own endpoints

    @property
    def waits(self) -> Waits:
        return WAITS[self.name]

    def session(self) -> boto3.Session:
        return boto3.Session(region_name=self.region)

    def client(self, service: str):
        return self.session().client(service)


def use_target(target: str = "local", region: str = DEFAULT_REGION) -> Target:
    """Point this process's boto3 at `target` and return it.

    On `local` this needs a running stack (`flightpipe local start`).
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    os.environ["AWS_DEFAULT_REGION"] = region
    if target == "aws":
        # Undo what `local` set in this process: the emulator's endpoint and its placeholder credentials.
        if os.environ.get("AWS_ENDPOINT_URL", "").startswith("http://127.0.0.1:"):
            del os.environ["AWS_ENDPOINT_URL"]
        for key, placeholder in LOCAL_CREDENTIALS.items():
            if os.environ.get(key) == placeholder:
                del os.environ[key]
        return Target("aws", region, None)
    endpoint = running_local_endpoint()
    if not endpoint:
        raise RuntimeError("No local stack is running: start it with `flightpipe local start`.")
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.update(LOCAL_CREDENTIALS)
    return Target("local", region, endpoint)


def default_warehouse(target: Target, project: str = DEFAULT_PROJECT, secret_arn: str = ""):
    """The project's warehouse on `target`, found by its default names (the secret's ARN is looked up unless
    given: Secrets Manager ends it with random characters)."""
    from flightpipe.names import Names
    from flightpipe.warehouse import Warehouse

    names = Names(project=project, region=target.region, bucket="")
    if not secret_arn:
        secret_arn = target.client("secretsmanager").describe_secret(SecretId=names.redshift_secret)["ARN"]
    return Warehouse(database=names.redshift_database, cluster_id=names.redshift_cluster, secret_arn=secret_arn)
