"""Every resource name of the pipeline, derived from a project name in one place.

Notebooks take `project` (and optionally `bucket`) as parameters and derive the rest here, so that
provisioning, the daily run and teardown always agree on what they are talking about.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def partition_of(arn: str) -> str:
    """The partition of an ARN ("aws", "aws-cn", "aws-us-gov"): its second field (IAM User Guide, "IAM
    identifiers", ARN format `arn:partition:service:region:account:resource`)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or not parts[1]:
        raise ValueError(f"not an ARN: {arn!r}")
    return parts[1]


@dataclass(frozen=True)
class Names:
    project: str
    region: str
    bucket: str  # raw data, dimension file, job script, staging, rejects
    partition: str = "aws"  # from the caller's ARN (sts:GetCallerIdentity): "aws-cn", "aws-us-gov" elsewhere

    # S3 layout inside the bucket
    raw_prefix: str = "raw/flights/"  # date=YYYY-MM-DD/flights.csv lands here
    dim_key: str = "dim/airports.csv"
    script_key: str = "glue/scripts/daily_flights_etl.py"
    # The job's library, passed with --extra-py-files: pip installs a wheel only under its own file name
    # (<name>-<version>-<tags>.whl), so the key ends with it (flightpipe.job_wheel builds it; a test checks).
    job_wheel_key: str = "glue/scripts/flightpipe_job-0.1.0-py3-none-any.whl"
    staging_prefix: str = "staging/"
    rejects_prefix: str = "rejects/"

    @classmethod
    def derive(cls, project: str, region: str, account_id: str, bucket: str = "", partition: str = "aws") -> Names:
        """Names for `project`; the default bucket is unique per account without revealing the account id."""
        digest = hashlib.sha256(f"{account_id}/{region}".encode()).hexdigest()[:10]
        return cls(project=project, region=region, bucket=bucket or f"{project}-{region}-{digest}",
                   partition=partition)

    @classmethod
    def for_caller(cls, project: str, region: str, caller: dict, bucket: str = "") -> Names:
        """Names for `project` in the account and partition of `caller` (an sts.get_caller_identity() answer)."""
        return cls.derive(project, region, caller["Account"], bucket, partition=partition_of(caller["Arn"]))

    def arn(self, service: str, resource: str, account: str = "", region: str | None = None) -> str:
        """`arn:<partition>:<service>:<region>:<account>:<resource>`; S3 and IAM ARNs take region="" and no account."""
        return f"arn:{self.partition}:{service}:{self.region if region is None else region}:{account}:{resource}"

    def s3_arn(self, bucket: str, key: str = "") -> str:
        return self.arn("s3", bucket + (f"/{key}" if key else ""), region="")

    def state_machine_arn(self, account: str) -> str:
        return self.arn("states", f"stateMachine:{self.state_machine}", account)

    @property
    def backfill_app_id(self) -> str:
        """The SDK app id (User-Agent `app/<id>`) of the backfill's uploads: the rule ignores their events."""
        return f"{self.project}-backfill"

    @property
    def trail_bucket(self) -> str:
        return f"{self.bucket}-trail"

    @property
    def glue_database(self) -> str:
        return self.project.replace("-", "_")

    @property
    def crawler(self) -> str:
        return f"{self.project}-raw-flights"

    @property
    def catalog_table(self) -> str:
        return "flights"  # the crawler names the table after the folder raw/flights/

    @property
    def job(self) -> str:
        return f"{self.project}-daily-flights-etl"

    @property
    def state_machine(self) -> str:
        return f"{self.project}-daily-ingest"

    @property
    def rule(self) -> str:
        return f"{self.project}-raw-flights-uploaded"

    @property
    def trail(self) -> str:
        return f"{self.project}-raw-data-events"

    @property
    def topic(self) -> str:
        return f"{self.project}-notifications"

    @property
    def queue(self) -> str:
        return f"{self.project}-notifications-inbox"

    @property
    def redshift_cluster(self) -> str:
        return self.project

    @property
    def redshift_database(self) -> str:
        return "dev"

    @property
    def redshift_secret(self) -> str:
        return f"{self.project}/redshift-admin"

    @property
    def roles(self) -> dict[str, str]:
        """IAM role per service principal that needs one."""
        return {
            "glue": f"{self.project}-glue",
            "redshift": f"{self.project}-redshift-copy",
            "states": f"{self.project}-states",
            "events": f"{self.project}-events",
        }

    def raw_key(self, run_date: str) -> str:
        return f"{self.raw_prefix}date={run_date}/flights.csv"


@dataclass(frozen=True)
class Arns:
    """The ARNs of the project's resources in one account, built from their names as AWS documents them.

    Formats: IAM User Guide, "IAM identifiers" (roles: `arn:partition:iam::account:role/name`, created without
    a path); the Service Authorization Reference's "Resource types" table of each service (Step Functions
    `stateMachine:name`, SNS and SQS `name`, EventBridge `rule/name` on the default bus, CloudTrail `trail/name`,
    Glue `crawler/name` and `job/name`, Redshift `cluster:name`). The secret's ARN is not here: Secrets Manager
    appends six random characters to it, so it can only be looked up.
    """

    names: Names
    account: str

    def _arn(self, service: str, resource: str) -> str:
        return self.names.arn(service, resource, self.account)

    @property
    def state_machine(self) -> str:
        return self.names.state_machine_arn(self.account)

    @property
    def topic(self) -> str:
        return self._arn("sns", self.names.topic)

    @property
    def queue(self) -> str:
        return self._arn("sqs", self.names.queue)

    @property
    def rule(self) -> str:
        return self._arn("events", f"rule/{self.names.rule}")

    @property
    def trail(self) -> str:
        return self._arn("cloudtrail", f"trail/{self.names.trail}")

    @property
    def crawler(self) -> str:
        return self._arn("glue", f"crawler/{self.names.crawler}")

    @property
    def job(self) -> str:
        return self._arn("glue", f"job/{self.names.job}")

    @property
    def cluster(self) -> str:
        return self._arn("redshift", f"cluster:{self.names.redshift_cluster}")

    @property
    def roles(self) -> dict[str, str]:
        """Role ARN per key of `Names.roles` (IAM is global: no region)."""
        return {key: self.names.arn("iam", f"role/{name}", self.account, region="")
                for key, name in self.names.roles.items()}
