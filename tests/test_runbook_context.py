"""`runbook_context`: what every notebook derives from its parameters, the same on both targets.

Expected ARNs are written out from AWS's documented formats (IAM User Guide, "IAM identifiers"; the Service
Authorization Reference's "Resource types" table of Step Functions, SNS, SQS, EventBridge, CloudTrail, Glue and
Redshift), not taken from the code under test.
"""

import json

import pytest

from flightpipe import config
from flightpipe.context import RunbookContext, runbook_context

ACCOUNT = "000000000000"
CALLER = {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/operator", "UserId": "AIDAEXAMPLE"}
TARGETS = {
    "local": config.Target("local", "eu-west-1", "http://127.0.0.1:5055"),
    "aws": config.Target("aws", "eu-west-1", None),
}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_names_and_arns_follow_from_the_caller_alone(target):
    ctx = RunbookContext.for_caller(TARGETS[target], "demo", CALLER, bucket="demo-data")
    assert (ctx.target.name, ctx.region, ctx.account_id, ctx.names.bucket) == (target, "eu-west-1", ACCOUNT,
                                                                                 "demo-data")
    assert ctx.arns.state_machine == f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:demo-daily-ingest"
    assert ctx.arns.topic == f"arn:aws:sns:eu-west-1:{ACCOUNT}:demo-notifications"
    assert ctx.arns.queue == f"arn:aws:sqs:eu-west-1:{ACCOUNT}:demo-notifications-inbox"
    assert ctx.arns.rule == f"arn:aws:events:eu-west-1:{ACCOUNT}:rule/demo-raw-flights-uploaded"
    assert ctx.arns.trail == f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/demo-raw-data-events"
    assert ctx.arns.crawler == f"arn:aws:glue:eu-west-1:{ACCOUNT}:crawler/demo-raw-flights"
    assert ctx.arns.job == f"arn:aws:glue:eu-west-1:{ACCOUNT}:job/demo-daily-flights-etl"
    assert ctx.arns.cluster == f"arn:aws:redshift:eu-west-1:{ACCOUNT}:cluster:demo"
    assert ctx.arns.roles == {  # IAM is global: no region in a role's ARN
        "glue": f"arn:aws:iam::{ACCOUNT}:role/demo-glue",
        "redshift": f"arn:aws:iam::{ACCOUNT}:role/demo-redshift-copy",
        "states": f"arn:aws:iam::{ACCOUNT}:role/demo-states",
        "events": f"arn:aws:iam::{ACCOUNT}:role/demo-events",
    }
    assert str(ctx) == f"target: {target} | region: eu-west-1 | bucket: demo-data"


def test_the_targets_differ_only_in_endpoint_and_waits():
    local, aws = (RunbookContext.for_caller(TARGETS[t], "flightpipe", CALLER) for t in ("local", "aws"))
    assert local.names == aws.names and local.account_id == aws.account_id
    assert vars(local.arns) == vars(aws.arns) and local.arns.roles == aws.arns.roles
    assert local.names.bucket.startswith("flightpipe-eu-west-1-") and ACCOUNT not in local.names.bucket
    assert (local.target.endpoint_url, aws.target.endpoint_url) == ("http://127.0.0.1:5055", None)
    assert local.waits is config.WAITS["local"] and aws.waits is config.WAITS["aws"]


def test_every_arn_is_in_the_callers_partition():
    caller = {**CALLER, "Arn": f"arn:aws-cn:iam::{ACCOUNT}:user/operator"}
    ctx = RunbookContext.for_caller(config.Target("aws", "cn-north-1", None), "demo", caller)
    arns = [ctx.arns.state_machine, ctx.arns.topic, ctx.arns.queue, ctx.arns.rule, ctx.arns.trail,
            ctx.arns.crawler, ctx.arns.job, ctx.arns.cluster, *ctx.arns.roles.values()]
    assert all(arn.startswith("arn:aws-cn:") for arn in arns), arns
    assert ctx.arns.state_machine == f"arn:aws-cn:states:cn-north-1:{ACCOUNT}:stateMachine:demo-daily-ingest"


def test_on_the_local_stack_the_services_answer_the_same_arns(local_stack, aws):
    """What the services return for resources created by name is what the context derives without asking."""
    ctx = runbook_context("local", local_stack.ctx.region, "ctx-check")
    assert ctx.target.name == "local" and ctx.account_id == aws("sts").get_caller_identity()["Account"]
    assert aws("sns").create_topic(Name=ctx.names.topic)["TopicArn"] == ctx.arns.topic
    url = aws("sqs").create_queue(QueueName=ctx.names.queue)["QueueUrl"]
    queue = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert queue == ctx.arns.queue
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"},
                                                      "Action": "sts:AssumeRole"}]}
    role = aws("iam").create_role(RoleName=ctx.names.roles["glue"], AssumeRolePolicyDocument=json.dumps(trust))
    assert role["Role"]["Arn"] == ctx.arns.roles["glue"]
    rule = aws("events").put_rule(Name=ctx.names.rule, EventPattern=json.dumps({"source": ["aws.s3"]}))
    assert rule["RuleArn"] == ctx.arns.rule


def test_the_warehouse_is_found_by_the_projects_secret(local_stack, aws):
    ctx = runbook_context("local", local_stack.ctx.region, "ctx-warehouse")
    created = aws("secretsmanager").create_secret(Name=ctx.names.redshift_secret, SecretString="{}")
    wh = ctx.warehouse
    assert (wh.database, wh.cluster_id, wh.secret_arn) == ("dev", "ctx-warehouse", created["ARN"])
    assert ctx.warehouse is wh  # built once per notebook


def test_a_missing_secret_is_secrets_managers_own_error(local_stack):
    from botocore.exceptions import ClientError

    ctx = runbook_context("local", local_stack.ctx.region, "ctx-unprovisioned")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        _ = ctx.warehouse
