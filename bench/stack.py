"""A provisioned local stack for the benchmarks: the `provision` runbook run against an in-process stack."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import boto3

from flightpipe.names import Names
from flightpipe.runbook import run_runbook
from flightpipe.warehouse import Warehouse
from flightpipe_local.session import LocalSession

PROJECT = "flightpipe"
# Waits the emulator adds to resemble AWS (a crawl's least RUNNING and STOPPING times, a job run's least
# STARTING time): off, so that the bench measures the pipeline's own work. Their defaults stay elsewhere.
EMULATED_WAITS_OFF = {"FLIGHTPIPE_LOCAL_CRAWL_SECONDS": "0", "FLIGHTPIPE_LOCAL_CRAWL_STOPPING_SECONDS": "0",
                      "FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS": "0"}
REGION = "us-east-1"


@dataclass
class Stack:
    """What the benchmarks need to know about the provisioned pipeline."""

    workdir: Path
    names: Names
    account_id: str
    secret_arn: str
    job_arguments: dict[str, str]  # the Glue job's DefaultArguments, as provisioned
    provision_seconds: float
    extra: dict = field(default_factory=dict)

    @property
    def warehouse(self) -> Warehouse:
        return Warehouse(database=self.names.redshift_database, cluster_id=self.names.redshift_cluster,
                         secret_arn=self.secret_arn)

    @property
    def state_machine_arn(self) -> str:
        return f"arn:aws:states:{REGION}:{self.account_id}:stateMachine:{self.names.state_machine}"

    def job_argv(self, **overrides: str) -> list[str]:
        """The script arguments Glue would pass to the job: its default arguments plus `overrides`."""
        arguments = {**self.job_arguments, **{f"--{k}": v for k, v in overrides.items()}}
        argv: list[str] = []
        for key, value in arguments.items():
            if key.startswith("--"):
                argv += [key, value]
        return argv


@contextlib.contextmanager
def provisioned(poll_seconds: int = 0, max_crawler_polls: int = 120, workdir: Path | None = None) -> Iterator[Stack]:
    """Start a fresh in-process stack, run the `provision` runbook against it, yield what was made.

    `poll_seconds` is notebook 07's parameter: the state machine's wait between crawler polls. 0 is a valid
    ASL Wait (SecondsPath takes any non-negative integer); the crawler loop stays bounded by
    `max_crawler_polls`, also a parameter of notebook 07. The local crawl's emulated duration
    (FLIGHTPIPE_LOCAL_CRAWL_SECONDS, by default long enough for one poll at 1 s) and a job run's least STARTING
    time (FLIGHTPIPE_LOCAL_JOB_STARTING_SECONDS, 0.5 s by default) are set to 0: the benchmark measures the
    pipeline's own work, not a wait the emulator adds to resemble AWS.
    """
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flightpipe-bench-")))
        stack.enter_context(mock.patch.dict(os.environ, EMULATED_WAITS_OFF))
        stack.enter_context(LocalSession(workdir / "state"))
        started = time.perf_counter()
        run_runbook("provision", {"poll_seconds": poll_seconds, "max_crawler_polls": max_crawler_polls},
                    workdir / "provision")
        provision_seconds = time.perf_counter() - started
        account_id = boto3.client("sts").get_caller_identity()["Account"]
        names = Names.derive(PROJECT, REGION, account_id)
        secret_arn = boto3.client("secretsmanager").describe_secret(SecretId=names.redshift_secret)["ARN"]
        job = boto3.client("glue").get_job(JobName=names.job)["Job"]
        yield Stack(workdir, names, account_id, secret_arn, dict(job["DefaultArguments"]), provision_seconds)

