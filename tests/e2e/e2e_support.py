"""What the end-to-end tests share: the chain as an operator sees it, the independent pandas expectation,
and the collector of measured reliability figures."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pandas as pd

from flightpipe import expected as reference
from flightpipe.names import Names

ROOT = Path(__file__).resolve().parents[2]
SQL_CHECKS = ROOT / "sql" / "checks"

MIN_DEP_DELAY = 60  # the threshold notebook 06 provisions by default
EXECUTION_TIMEOUT = 150  # seconds; covers the state machine's 30 s retry when Glue's concurrency limit is hit


# ---- the independent expectation -------------------------------------------------------------------------

expected_facts = reference.day_facts  # the fact rows of one day file, computed with pandas alone


@dataclass
class Comparison:
    expected: int
    actual: int
    lost: int  # expected rows missing from the table
    duplicated: int  # extra copies of expected rows
    unexpected: int  # rows that are not expected at all (e.g. from an older version or a half load)

    @property
    def exact(self) -> bool:
        return self.lost == self.duplicated == self.unexpected == 0


def compare(actual: pd.DataFrame, expected: pd.DataFrame) -> Comparison:
    """Compare two sets of fact rows as multisets."""
    def bag(df: pd.DataFrame) -> Counter:
        rows = reference.normalise(df).astype(object).where(lambda d: d.notna(), None)
        return Counter(map(tuple, rows.values.tolist()))

    got, want = bag(actual), bag(expected)
    return Comparison(
        expected=sum(want.values()),
        actual=sum(got.values()),
        lost=sum(max(0, n - got[row]) for row, n in want.items()),
        duplicated=sum(max(0, n - want[row]) for row, n in got.items() if row in want),
        unexpected=sum(n for row, n in got.items() if row not in want),
    )


# ---- sample days ------------------------------------------------------------------------------------------


def to_csv(rows: pd.DataFrame, **options) -> bytes:
    return rows.to_csv(index=False, lineterminator=options.pop("lineterminator", "\n"), **options).encode()


# ---- the chain --------------------------------------------------------------------------------------------


@dataclass
class Upload:
    key: str
    version: str
    body: bytes

    @property
    def md5(self) -> str:
        return hashlib.md5(self.body).hexdigest()  # noqa: S324 (a checksum, not security)


@dataclass
class Outcome:
    """What became of one execution: its status, its SNS message, its Glue job run."""

    arn: str
    name: str
    status: str
    message: str
    cause: str
    job_run_id: str | None
    input: dict

    def history(self) -> list[dict]:
        return boto3.client("stepfunctions").get_execution_history(executionArn=self.arn, maxResults=1000)["events"]

    def task_errors(self) -> list[str]:
        """The errors the execution's Tasks met (caught or retried), in order."""
        return [e["taskFailedEventDetails"].get("error", "") for e in self.history() if "taskFailedEventDetails" in e]


@dataclass
class Chain:
    """The provisioned pipeline, seen through boto3 as a user sees it."""

    names: Names
    account_id: str
    region: str
    state_dir: Path
    provision_dir: Path
    secret_arn: str
    provision_seconds: float = 0.0
    run_dirs: list[Path] = field(default_factory=list)  # runbook output folders of this session
    inbox: list[str] = field(default_factory=list)
    _inputs: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def provisioned(cls, state_dir: Path, provision_dir: Path, provision_seconds: float = 0.0) -> Chain:
        """The default project's pipeline on the stack this process's environment points at."""
        region = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        account_id = boto3.client("sts").get_caller_identity()["Account"]
        names = Names.derive("flightpipe", region, account_id)
        secret_arn = boto3.client("secretsmanager").describe_secret(SecretId=names.redshift_secret)["ARN"]
        return cls(names=names, account_id=account_id, region=region, state_dir=state_dir,
                   provision_dir=provision_dir, secret_arn=secret_arn, provision_seconds=provision_seconds,
                   run_dirs=[provision_dir])

    @property
    def sm_arn(self) -> str:
        return f"arn:aws:states:{self.region}:{self.account_id}:stateMachine:{self.names.state_machine}"

    @property
    def bucket(self) -> str:
        return self.names.bucket

    @property
    def warehouse(self):
        from flightpipe.warehouse import Warehouse

        return Warehouse(database=self.names.redshift_database, cluster_id=self.names.redshift_cluster,
                         secret_arn=self.secret_arn)

    def client(self, service: str):
        return boto3.client(service, region_name=self.region)

    # -- S3
    def key(self, day: str) -> str:
        return self.names.raw_key(day)

    def upload(self, key: str, body: bytes, s3=None) -> Upload:
        """PutObject of one day; `s3`: a client made beforehand (a new client costs ~0.1 s of CPU)."""
        version = (s3 or self.client("s3")).put_object(Bucket=self.bucket, Key=key, Body=body)["VersionId"]
        return Upload(key, version, body)

    def raw_versions(self) -> dict[tuple[str, str], str]:
        """Every (key, version) under the raw prefix → its ETag: what an upload may add and nothing may change."""
        s3, out = self.client("s3"), {}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix="raw/"):
            for v in page.get("Versions", []):
                out[(v["Key"], v["VersionId"])] = v["ETag"]
            for d in page.get("DeleteMarkers", []):
                out[(d["Key"], d["VersionId"])] = "delete-marker"
        return out

    def assert_raw_intact(self, upload: Upload) -> None:
        """The uploaded version is still there, byte for byte, and is still the key's only and latest version."""
        s3 = self.client("s3")
        body = s3.get_object(Bucket=self.bucket, Key=upload.key, VersionId=upload.version)["Body"].read()
        assert hashlib.md5(body).hexdigest() == upload.md5, f"{upload.key}: raw bytes changed"  # noqa: S324
        head = s3.head_object(Bucket=self.bucket, Key=upload.key)
        assert head["VersionId"] == upload.version, f"{upload.key}: a newer version appeared"

    def keys(self, prefix: str) -> list[str]:
        listed = self.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))

    def read(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return self.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()

    # -- Step Functions
    def executions(self) -> list[dict]:
        sfn, found = self.client("stepfunctions"), []
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=self.sm_arn):
            found += page["executions"]
        return found

    def execution_input(self, arn: str) -> dict:
        if arn not in self._inputs:  # an execution's input never changes
            self._inputs[arn] = json.loads(self.client("stepfunctions").describe_execution(executionArn=arn)["input"])
        return self._inputs[arn]

    def executions_for(self, key: str, version: str | None = None) -> list[str]:
        """ARNs of the executions started for a write of `key` (of that S3 version, if given), oldest first."""
        arns = []
        for ex in self.executions():
            detail = self.execution_input(ex["executionArn"]).get("detail", {})
            written = detail.get("responseElements") or {}
            if detail.get("requestParameters", {}).get("key") == key and (
                    version is None or written.get("x-amz-version-id") == version):
                arns.append((ex["startDate"], ex["executionArn"]))
        return [arn for _, arn in sorted(arns)]

    def wait_for_execution(self, upload: Upload, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while not (arns := self.executions_for(upload.key, upload.version)):
            assert time.monotonic() < deadline, f"no execution started for {upload.key} ({upload.version})"
            time.sleep(0.2)
        assert len(arns) == 1, f"{len(arns)} executions for one upload of {upload.key}"
        return arns[0]

    def finish(self, arn: str, timeout: float = EXECUTION_TIMEOUT) -> Outcome:
        """Wait for the execution to end; return it with its SNS notification."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"execution {desc['name']} still RUNNING after {timeout}s"
            time.sleep(0.25)
        output = json.loads(desc.get("output") or "{}")
        job_run_id = (output.get("job") or {}).get("JobRunId")
        cause = desc.get("cause", "")
        marker = f"Step Functions execution: {desc['name']}" if desc["status"] != "SUCCEEDED" else (
            f"(Glue job run {job_run_id})")
        # The job's run identity (ledger job_run_id, staging folder) is the execution's name: Glue passes a
        # Python shell job no JOB_RUN_ID, so the state machine passes the name as --run_id.
        return Outcome(arn, desc["name"], desc["status"], self.message(marker), cause, desc["name"],
                       json.loads(desc["input"]))

    def follow(self, upload: Upload) -> Outcome:
        return self.finish(self.wait_for_execution(upload))

    def redeliver(self, outcome: Outcome) -> Outcome:
        """Start the state machine again with the same event (EventBridge delivers at least once)."""
        arn = self.client("stepfunctions").start_execution(
            stateMachineArn=self.sm_arn, name=f"redelivery-{uuid.uuid4()}", input=json.dumps(outcome.input)
        )["executionArn"]
        return self.finish(arn)

    def message(self, marker: str, timeout: float = 15) -> str:
        """The SNS notification (read from the inbox queue) that contains `marker`."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=self.names.queue)["QueueUrl"]
        deadline = time.monotonic() + timeout
        while not (found := [m for m in self.inbox if marker in m]):
            assert time.monotonic() < deadline, f"no SNS notification containing {marker!r}"
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                self.inbox.append(m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert len(found) == 1, f"{len(found)} notifications containing {marker!r}"
        return found[0]

    # -- warehouse
    def query(self, sql: str, **params) -> pd.DataFrame:
        return self.warehouse.query(sql, params or None)

    def facts(self, day: str) -> pd.DataFrame:
        return self.query("SELECT * FROM airlines.daily_flights_fact WHERE flight_date = CAST(:day AS DATE)", day=day)

    def ledger(self, key: str, version: str | None = None) -> pd.DataFrame:
        rows = self.query("SELECT * FROM airlines.load_ledger WHERE source_key = :key ORDER BY started_at, load_id",
                          key=key)
        return rows[rows.source_version == version].reset_index(drop=True) if version else rows

    def table_counts(self) -> dict[str, int]:
        counts = self.query("""
            SELECT 'fact' AS t, COUNT(*) AS n FROM airlines.daily_flights_fact
            UNION ALL SELECT 'ledger', COUNT(*) FROM airlines.load_ledger
            UNION ALL SELECT 'airports', COUNT(*) FROM airlines.airports_dim""")
        return dict(zip(counts.t, counts.n.astype(int), strict=True))

    def check_violations(self, max_running_minutes: int = 30) -> dict[str, int]:
        """Run every data check of sql/checks/ (each returns offending rows) in one query; name → offending rows."""
        counts, params = [], {}
        for path in sorted(SQL_CHECKS.glob("*.sql")):
            body = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("--"))
            counts.append(f"(SELECT COUNT(*) FROM ({body.strip().rstrip(';')}) AS offending) AS {path.stem}")
            if ":max_running_minutes" in body:
                params["max_running_minutes"] = max_running_minutes  # default: the job's timeout as provisioned
        row = self.query("SELECT " + ",\n".join(counts), **params).iloc[0]
        return {name: int(n) for name, n in row.items() if n}

    # -- the Glue job's arguments
    @contextlib.contextmanager
    def job_arguments(self, **changes: str):
        """Run the Glue job with changed DefaultArguments inside the block, then restore them."""
        glue = self.client("glue")
        job = glue.get_job(JobName=self.names.job)["Job"]
        saved = dict(job["DefaultArguments"])
        self._set_default_arguments(job, {**saved, **changes})
        try:
            yield
        finally:
            self._set_default_arguments(job, saved)
        assert glue.get_job(JobName=self.names.job)["Job"]["DefaultArguments"] == saved

    def _set_default_arguments(self, job: dict, arguments: dict[str, str]) -> None:
        """UpdateJob overwrites the whole definition: send it back with only the arguments changed."""
        kept = ("Role", "Description", "Command", "ExecutionProperty", "MaxCapacity", "Timeout", "GlueVersion")
        update = {k: job[k] for k in kept if k in job}
        self.client("glue").update_job(JobName=self.names.job, JobUpdate={**update, "DefaultArguments": arguments})


# ---- the measured figures ---------------------------------------------------------------------------------


@dataclass
class Reliability:
    """Figures the e2e tests measure, written to runs/reliability.json at the end of the session."""

    cases: list[dict] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def record(self, case: str, *, executions: int, outcome: str,
               comparisons: list[Comparison] | Comparison | None = None, **extra) -> None:
        """One case: executions it started, and the sum over every fact-table state it compared."""
        compared = comparisons if isinstance(comparisons, list) else [comparisons] if comparisons else []
        self.cases.append({
            "case": case, "executions": executions, "outcome": outcome, "states_compared": len(compared),
            **{f"rows_{k}": sum(getattr(c, k) for c in compared)
               for k in ("expected", "actual", "lost", "duplicated", "unexpected")},
            **extra,
        })

    def summary(self, provision_seconds: float) -> dict:
        total = {k: sum(c.get(k, 0) for c in self.cases) for k in
                 ("executions", "states_compared", "rows_expected", "rows_lost", "rows_duplicated",
                  "rows_unexpected", "rows_rejected")}
        return {
            "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "machine": machine(),
            "provision_seconds": round(provision_seconds, 1),
            "cases_seconds": round(time.monotonic() - self.started, 1),
            "cases_tried": len(self.cases),
            "executions_started": total["executions"],
            "fact_table_states_compared": total["states_compared"],
            "rows_expected": total["rows_expected"],
            "rows_lost": total["rows_lost"],
            "rows_duplicated": total["rows_duplicated"],
            "rows_unexpected": total["rows_unexpected"],
            "rows_rejected_with_reason": total["rows_rejected"],
            "cases": self.cases,
        }


def machine() -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    return {"os": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(), "cpu": cpu}


