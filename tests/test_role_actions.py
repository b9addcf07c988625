"""Each role allows every call its component makes, on the resource it makes it on.

The calls are derived from the components themselves: the state machine's Task resources (including what an
optimized `.sync` integration calls behind the scenes), the Glue job's boto3 calls (parsed from its source), and
what the crawler and Redshift's COPY do per AWS's documentation. A new call without its permission fails here,
before AWS refuses it at run time.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

import pytest

from flightpipe import policies
from flightpipe.config import PROJECT_ROOT
from flightpipe.names import Names
from flightpipe.statemachine import DEFINITION

ACCOUNT = "000000000000"
NAMES = Names.derive("flightpipe", "us-east-1", ACCOUNT)
ARN = policies._arns(NAMES, ACCOUNT)
B = NAMES.bucket
RAW_KEY = NAMES.s3_arn(B, NAMES.raw_key("2013-01-01"))
STAGING_KEY = NAMES.s3_arn(B, f"{NAMES.staging_prefix}jr_1/part-00000.parquet")
REJECTS_KEY = NAMES.s3_arn(B, f"{NAMES.rejects_prefix}date=2013-01-01/jr_1.csv")
SECRET = NAMES.arn("secretsmanager", f"secret:{NAMES.redshift_secret}-AbCdEf", ACCOUNT)
TABLE = NAMES.arn("glue", f"table/{NAMES.glue_database}/{NAMES.catalog_table}", ACCOUNT)
CATALOG_OBJECTS = [ARN["catalog"], ARN["database"], TABLE]  # Glue checks a table call on all three


# ---- a small IAM evaluator: Allow statements, wildcards, and the condition operators the policies use ----------

def _as_list(value):
    return value if isinstance(value, list) else [value]


def _condition_holds(condition: dict, context: dict) -> bool:
    for operator, tests in condition.items():
        for key, wanted in tests.items():
            if key not in context:
                return False  # IAM: a condition on a key the request lacks does not match
            value = context[key]
            if operator == "StringLike" and not any(fnmatchcase(value, w) for w in _as_list(wanted)):
                return False
            if operator in ("StringEquals", "ArnEquals") and value not in _as_list(wanted):
                return False
    return True


def allows(document: dict, action: str, resource: str, context: dict | None = None) -> bool:
    """IAM policy evaluation reduced to what these documents contain (no Deny, NotAction or NotResource)."""
    for statement in _as_list(document["Statement"]):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        if (any(fnmatchcase(action.lower(), a.lower()) for a in _as_list(statement["Action"]))
                and any(fnmatchcase(resource, r) for r in _as_list(statement["Resource"]))
                and _condition_holds(statement.get("Condition", {}), context or {})):
            return True
    return False


def test_the_evaluator_refuses_what_iam_refuses():
    doc = policies.glue_job_policy(NAMES, ACCOUNT)
    assert allows(doc, "s3:GetObject", RAW_KEY)
    assert not allows(doc, "s3:PutObject", RAW_KEY)  # raw data is read-only for the job
    assert not allows(doc, "s3:ListBucket", ARN["bucket"], {"s3:prefix": "dim/"})
    assert not allows(doc, "s3:ListBucket", ARN["bucket"])  # no prefix: the condition does not match


# ---- the state machine ------------------------------------------------------------------------------------------

# Optimized integrations call more than their name says (Step Functions developer guide, "Start an AWS Glue job
# with Step Functions", section "IAM policies for calling AWS Glue": Run a Job (.sync) needs StartJobRun,
# GetJobRun, GetJobRuns and BatchStopJobRun: https://docs.aws.amazon.com/step-functions/latest/dg/connect-glue.html).
OPTIMIZED = {
    "glue:startJobRun.sync": ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
    "glue:startJobRun": ["glue:StartJobRun"],
    "sns:publish": ["sns:Publish"],
}
# AWS SDK integrations (`aws-sdk:<service>:<action>`) call exactly that API; IAM prefixes where they differ.
IAM_PREFIX = {"redshiftdata": "redshift-data"}
# The resource a call is on, from the Task's parameter naming it.
RESOURCE_OF = {
    "${CrawlerName}": ARN["crawler"], "${JobName}": ARN["job"], "${ClusterId}": ARN["cluster"],
    "${TopicArn}": ARN["topic"],
}


def _tasks(states: dict):
    for name, state in states.items():
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from _tasks(branch["States"])
        if "ItemProcessor" in state:
            yield from _tasks(state["ItemProcessor"]["States"])


def state_machine_calls() -> list[tuple[str, str, str]]:
    """(task, IAM action, resource ARN) for every call the state machine's Tasks make."""
    calls = []
    for name, task in _tasks(json.loads(DEFINITION.read_text())["States"]):
        integration = task["Resource"].removeprefix("arn:aws:states:::")
        params = task.get("Parameters") or task.get("Arguments") or {}
        named = [RESOURCE_OF[v] for v in params.values() if isinstance(v, str) and v in RESOURCE_OF]
        if integration.startswith("aws-sdk:"):
            _, service, api = integration.split(":")
            actions = [f"{IAM_PREFIX.get(service, service)}:{api[0].upper()}{api[1:]}"]
        else:
            assert integration in OPTIMIZED, f"{name}: no IAM mapping for {integration}; add it to OPTIMIZED"
            actions = OPTIMIZED[integration]
        # statement ids are not resources: DescribeStatement / GetStatementResult take "*" (WILDCARD_REQUIRED)
        resources = named or (["*"] if "Id.$" in params else [])
        assert resources, f"{name}: which resource does {integration} act on?"
        calls += [(name, action, resource) for action in actions for resource in resources]
        if params.get("SecretArn") == "${SecretArn}":  # the Data API reads the secret as the caller
            calls.append((name, "secretsmanager:GetSecretValue", SECRET))
    return calls


def test_the_derivation_sees_the_sync_job_run_and_the_notifications():
    calls = state_machine_calls()
    assert ("RunJob", "glue:BatchStopJobRun", ARN["job"]) in calls
    assert {task for task, action, _ in calls if action == "sns:Publish"} >= {"NotifySuccess", "NotifyFailure"}


@pytest.mark.parametrize("task,action,resource", state_machine_calls(), ids=lambda v: v if ":" not in v else None)
def test_the_states_role_allows_each_call_of_the_state_machine(task, action, resource):
    assert allows(policies.states_policy(NAMES, ACCOUNT), action, resource), f"{task}: {action} on {resource}"


# ---- the Glue job -------------------------------------------------------------------------------------------------

# The job: its entry script and its package (the modules Glue gets as a wheel).
JOB_FILES = [PROJECT_ROOT / "glue_job" / "daily_flights_etl.py",
             *sorted((PROJECT_ROOT / "glue_job" / "flightpipe_job").glob("*.py"))]
# The job's client variables → service (checked below against the clients the job creates).
CLIENT_VARIABLES = {"s3": "s3", "self.s3": "s3", "glue": "glue", "self.client": "redshift-data"}
# What each call of the job needs, on what (S3's actions per operation: S3 User Guide, "Required permissions for
# Amazon S3 API operations": https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html).
JOB_NEEDS = {
    ("s3", "head_object"): [("s3:GetObject", RAW_KEY, None)],
    ("s3", "get_object"): [("s3:GetObject", RAW_KEY, None), ("s3:GetObjectVersion", RAW_KEY, None)],
    ("s3", "put_object"): [("s3:PutObject", STAGING_KEY, None)],
    ("s3", "upload_file"): [("s3:PutObject", REJECTS_KEY, None)],
    ("s3", "delete_objects"): [("s3:DeleteObject", STAGING_KEY, None)],
    # A day's older versions get their ledger rows: ListObjectVersions on the day's key, or on the raw prefix when
    # a run considers several days, needs s3:ListBucketVersions.
    ("s3", "list_object_versions"): [
        ("s3:ListBucketVersions", ARN["bucket"], {"s3:prefix": NAMES.raw_key("2013-01-01")}),
        ("s3:ListBucketVersions", ARN["bucket"], {"s3:prefix": NAMES.raw_prefix})],
    ("s3", "list_objects_v2"): [("s3:ListBucket", ARN["bucket"], {"s3:prefix": NAMES.staging_prefix + "jr_1/"})],
    ("glue", "get_partitions"): [("glue:GetPartitions", r, None) for r in CATALOG_OBJECTS],
    ("glue", "get_job_runs"): [("glue:GetJobRuns", ARN["job"], None)],  # is the claim's run still alive?
    ("redshift-data", "execute_statement"): [("redshift-data:ExecuteStatement", ARN["cluster"], None),
                                             ("secretsmanager:GetSecretValue", SECRET, None)],
    ("redshift-data", "batch_execute_statement"): [("redshift-data:BatchExecuteStatement", ARN["cluster"], None),
                                                   ("secretsmanager:GetSecretValue", SECRET, None)],
    ("redshift-data", "describe_statement"): [("redshift-data:DescribeStatement", "*", None)],
    ("redshift-data", "get_statement_result"): [("redshift-data:GetStatementResult", "*", None)],
}


def job_calls() -> set[tuple[str, str]]:
    """(service, method) of every boto3 call in the job's source, paginated operations included."""
    source = "\n".join(path.read_text() for path in JOB_FILES)
    created = set(re.findall(r'boto3\.client\("([\w-]+)"', source))
    assert created <= set(CLIENT_VARIABLES.values()), f"the job creates clients {created}: map their variables"
    variables = "|".join(re.escape(v) for v in sorted(CLIENT_VARIABLES, key=len, reverse=True))
    calls = set()
    for variable, method in re.findall(rf"(?<![\w.])({variables})\.(\w+)\(", source):
        if method == "get_paginator":
            continue
        calls.add((CLIENT_VARIABLES[variable], method))
    for variable, operation in re.findall(rf'(?<![\w.])({variables})\.get_paginator\("(\w+)"\)', source):
        calls.add((CLIENT_VARIABLES[variable], operation))
    return calls


def test_every_boto3_call_of_the_job_has_its_permissions_listed():
    unknown = job_calls() - set(JOB_NEEDS)
    assert not unknown, f"the job calls {sorted(unknown)}: add what each needs to JOB_NEEDS"
    assert ("s3", "get_object") in job_calls() and ("glue", "get_partitions") in job_calls()


@pytest.mark.parametrize("call", sorted(job_calls()), ids="{0[0]}.{0[1]}".format)
def test_the_glue_role_allows_each_call_of_the_job(call):
    for action, resource, context in JOB_NEEDS[call]:
        assert allows(policies.glue_job_policy(NAMES, ACCOUNT), action, resource, context), (call, action, resource)



def test_the_glue_role_reads_the_script_and_the_wheel_and_no_other_library():
    """Glue fetches the script and each --extra-py-files object with the job's role before the script runs."""
    policy = policies.glue_job_policy(NAMES, ACCOUNT)
    for key in (NAMES.script_key, NAMES.job_wheel_key):
        assert allows(policy, "s3:GetObject", NAMES.s3_arn(B, key)), key
    other = NAMES.job_wheel_key.replace("flightpipe_job-", "other_library-")
    assert not allows(policy, "s3:GetObject", NAMES.s3_arn(B, other))
    assert not allows(policy, "s3:PutObject", NAMES.s3_arn(B, NAMES.job_wheel_key))

# ---- the crawler (same role), Redshift's COPY, EventBridge --------------------------------------------------------

# A crawler of an S3 target needs the Data Catalog part of AWSGlueServiceRole (AWS Glue developer guide, "Crawler
# prerequisites": https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html; the managed policy:
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSGlueServiceRole.html), scoped down here to the
# calls a crawl with UPDATE_IN_DATABASE / LOG and partition inheritance makes, plus read access to its S3 path.
CRAWLER_LOGS = NAMES.arn("logs", "log-group:/aws-glue/crawlers", ACCOUNT)
CRAWLER_NEEDS = [
    ("s3:GetBucketLocation", ARN["bucket"], None),
    ("s3:ListBucket", ARN["bucket"], {"s3:prefix": NAMES.raw_prefix}),
    ("s3:GetObject", RAW_KEY, None),
    *[(f"glue:{a}", r, None) for a in ("GetDatabase", "GetTable", "CreateTable", "UpdateTable", "GetPartition",
                                      "GetPartitions", "BatchGetPartition", "CreatePartition",
                                      "BatchCreatePartition", "UpdatePartition", "BatchUpdatePartition")
      for r in CATALOG_OBJECTS],
    ("logs:CreateLogGroup", CRAWLER_LOGS, None),
    ("logs:CreateLogStream", f"{CRAWLER_LOGS}:log-stream:{NAMES.crawler}", None),
    ("logs:PutLogEvents", f"{CRAWLER_LOGS}:log-stream:{NAMES.crawler}", None),
]
# COPY reads the named objects and lists the prefix it is given (Redshift Database Developer Guide, "IAM
# permissions for COPY, UNLOAD, and CREATE LIBRARY": https://docs.aws.amazon.com/redshift/latest/dg/copy-usage_notes-access-permissions.html).
COPY_NEEDS = [
    ("s3:GetObject", NAMES.s3_arn(B, NAMES.dim_key), None),
    ("s3:GetObject", STAGING_KEY, None),
    ("s3:ListBucket", ARN["bucket"], {"s3:prefix": NAMES.staging_prefix}),
]


@pytest.mark.parametrize("action,resource,context", CRAWLER_NEEDS, ids=lambda v: v if isinstance(v, str) else None)
def test_the_glue_role_allows_what_the_crawler_does(action, resource, context):
    assert allows(policies.glue_job_policy(NAMES, ACCOUNT), action, resource, context), (action, resource)


@pytest.mark.parametrize("action,resource,context", COPY_NEEDS, ids=lambda v: v if isinstance(v, str) else None)
def test_the_redshift_role_allows_what_copy_reads(action, resource, context):
    assert allows(policies.redshift_copy_policy(NAMES, ACCOUNT), action, resource, context), (action, resource)


def test_the_events_role_starts_exactly_the_state_machine():
    doc = policies.events_policy(NAMES, ACCOUNT)
    assert allows(doc, "states:StartExecution", NAMES.state_machine_arn(ACCOUNT))
    assert not allows(doc, "states:StartExecution", NAMES.state_machine_arn(ACCOUNT) + "-other")
