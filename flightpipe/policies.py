"""The IAM documents of the pipeline: who may assume each role, and exactly what each role may touch.

Least privilege: every statement names the resources it grants. The only `"Resource": "*"` entries are
for actions AWS does not let you scope to a resource (`WILDCARD_REQUIRED`, each one explained there).
"""

from __future__ import annotations

from flightpipe.names import Arns, Names

# Actions that accept no resource-level scoping in IAM, so AWS requires "*" for them.
WILDCARD_REQUIRED = {
    # The Data API's statement calls act on statement ids, which are checked against the caller who ran them.
    "redshift-data:DescribeStatement",
    "redshift-data:GetStatementResult",
    "redshift-data:CancelStatement",
    "redshift-data:ListStatements",
}


def trust(service: str) -> dict:
    """Trust policy letting `service` (e.g. glue.amazonaws.com) assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def _arns(names: Names, account: str) -> dict[str, str]:
    """The ARNs the policies name, in the caller's partition (names.partition: never a hard-coded `arn:aws:`)."""
    a, arn, of = account, names.arn, Arns(names, account)
    return {
        "bucket": names.s3_arn(names.bucket),
        "cluster": of.cluster,
        "dbname": arn("redshift", f"dbname:{names.redshift_cluster}/{names.redshift_database}", a),
        "secret": arn("secretsmanager", f"secret:{names.redshift_secret}-*", a),
        "catalog": arn("glue", "catalog", a),
        "database": arn("glue", f"database/{names.glue_database}", a),
        "table": arn("glue", f"table/{names.glue_database}/*", a),
        "crawler": of.crawler,
        "job": of.job,
        "topic": of.topic,
        "state_machine": of.state_machine,
        "job_logs": arn("logs", "log-group:/aws-glue/*", a),
    }


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _data_api(arn: dict[str, str]) -> list[dict]:
    return [
        {
            "Sid": "RunSqlOnTheProjectCluster",
            "Effect": "Allow",
            "Action": ["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"],
            "Resource": [arn["cluster"]],
        },
        {
            "Sid": "ReadOwnStatements",  # no resource-level scoping exists for these (see WILDCARD_REQUIRED)
            "Effect": "Allow",
            "Action": ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult"],
            "Resource": "*",
        },
        {
            "Sid": "UseTheWarehouseSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [arn["secret"]],
        },
    ]


def glue_job_policy(names: Names, account: str) -> dict:
    """The Glue crawler and the ETL job: read raw data, write staging and rejects, catalog, Data API, logs.

    AWS's "Crawler prerequisites" asks for AWSGlueServiceRole "or equivalent (or a scoped down version of this
    policy)" plus read access to the data (https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html). The
    managed policy grants `glue:*` and bucket calls on "*", EC2 network calls (for VPC connections, unused here)
    and `cloudwatch:PutMetricData` (job metrics, a Spark feature). This is the scoped-down version: the catalog
    calls a crawl with UPDATE_IN_DATABASE / LOG and partition inheritance makes, on this database only, and the
    bucket calls on this bucket only. tests/test_role_actions.py checks it against every call.
    """
    arn, b = _arns(names, account), names.s3_arn(names.bucket)
    return _doc(
        {
            # Glue reads the job's script and its --extra-py-files with the job's role.
            "Sid": "ReadRawDataAndScript",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [f"{b}/{names.raw_prefix}*", f"{b}/{names.script_key}", f"{b}/{names.job_wheel_key}"],
        },
        {
            "Sid": "WriteStagingAndRejects",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
            "Resource": [f"{b}/{names.staging_prefix}*", f"{b}/{names.rejects_prefix}*"],
        },
        {"Sid": "LocateTheBucket", "Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [arn["bucket"]]},
        {
            "Sid": "ListTheProjectPrefixes",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": [arn["bucket"]],
            "Condition": {
                "StringLike": {
                    "s3:prefix": [f"{p}*" for p in (names.raw_prefix, names.staging_prefix, names.rejects_prefix)]
                }
            },
        },
        {
            "Sid": "MaintainTheCatalog",
            "Effect": "Allow",
            "Action": [
                "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
                "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
                "glue:BatchCreatePartition", "glue:UpdatePartition", "glue:BatchUpdatePartition", "glue:GetJobRuns",
            ],
            "Resource": [arn["catalog"], arn["database"], arn["table"], arn["job"]],
        },
        *_data_api(arn),
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [arn["job_logs"], f"{arn['job_logs']}:*"],
        },
    )


def redshift_copy_policy(names: Names, account: str) -> dict:
    """What Redshift may read when it runs COPY: the dimension file and the job's staging area."""
    b = names.s3_arn(names.bucket)
    return _doc(
        {
            "Sid": "ReadDimensionAndStaging",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"{b}/{names.dim_key}", f"{b}/{names.staging_prefix}*"],
        },
        {
            "Sid": "ListWhatCopyReads",  # COPY lists the prefix it loads from
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [b],
            "Condition": {"StringLike": {"s3:prefix": [f"{names.dim_key}*", f"{names.staging_prefix}*"]}},
        },
    )


def states_policy(names: Names, account: str) -> dict:
    """The state machine: run the crawler and the job, read the ledger, publish the outcome."""
    arn = _arns(names, account)
    return _doc(
        {
            "Sid": "RunTheCrawler",
            "Effect": "Allow",
            "Action": ["glue:StartCrawler", "glue:GetCrawler"],
            "Resource": [arn["crawler"]],
        },
        {
            "Sid": "RunTheJob",
            "Effect": "Allow",
            "Action": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
            "Resource": [arn["job"]],
        },
        *_data_api(arn),
        {"Sid": "Notify", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [arn["topic"]]},
    )


def events_policy(names: Names, account: str) -> dict:
    """EventBridge: start executions of the pipeline's state machine, nothing else."""
    return _doc(
        {
            "Sid": "StartTheDailyIngest",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": [_arns(names, account)["state_machine"]],
        }
    )


# role key (see Names.roles) → (service principal, permissions policy)
ROLES = {
    "glue": ("glue.amazonaws.com", glue_job_policy),
    "redshift": ("redshift.amazonaws.com", redshift_copy_policy),
    "states": ("states.amazonaws.com", states_policy),
    "events": ("events.amazonaws.com", events_policy),
}


def trail_bucket_policy(names: Names, account: str) -> dict:
    """Let CloudTrail (and only for this trail) check the log bucket's ACL and write its log files."""
    bucket = names.s3_arn(names.trail_bucket)
    trail = names.arn("cloudtrail", f"trail/{names.trail}", account)
    return _doc(
        {
            "Sid": "AWSCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket,
            "Condition": {"StringEquals": {"aws:SourceArn": trail}},
        },
        {
            "Sid": "AWSCloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket}/AWSLogs/{account}/*",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceArn": trail}},
        },
    )


def queue_policy(queue_arn: str, topic_arn: str) -> dict:
    """Let the notifications topic (and nothing else) deliver into the inbox queue."""
    return _doc(
        {
            "Sid": "TopicDelivers",
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        }
    )


def show(document: dict, account: str) -> str:
    """A policy as indented JSON with the account id masked, for printing in notebooks."""
    import json

    return json.dumps(document, indent=2).replace(account, "<account-id>")
