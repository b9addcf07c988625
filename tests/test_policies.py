"""Least privilege, checked on the documents the notebooks create."""

import json
import re

import pytest

from flightpipe import policies
from flightpipe.names import Names, partition_of

ACCOUNT = "000000000000"
NAMES = Names.derive("flightpipe", "us-east-1", ACCOUNT)


def statements(document):
    return document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]


def as_list(value):
    return value if isinstance(value, list) else [value]


ALL_DOCUMENTS = {
    **{f"role:{key}": fn(NAMES, ACCOUNT) for key, (_, fn) in policies.ROLES.items()},
    "trail bucket": policies.trail_bucket_policy(NAMES, ACCOUNT),
    "queue": policies.queue_policy("arn:aws:sqs:us-east-1:000000000000:q", "arn:aws:sns:us-east-1:000000000000:t"),
}


@pytest.mark.parametrize("name", sorted(ALL_DOCUMENTS))
def test_every_statement_names_its_resources(name):
    for statement in statements(ALL_DOCUMENTS[name]):
        resources = as_list(statement["Resource"])
        if "*" in resources:
            # Only actions that AWS cannot scope to a resource may use "*", and nothing else in that statement.
            assert resources == ["*"]
            assert set(as_list(statement["Action"])) <= policies.WILDCARD_REQUIRED, statement
        for arn in resources:
            assert arn == "*" or arn.startswith(f"arn:{NAMES.partition}:"), arn


@pytest.mark.parametrize("key", sorted(policies.ROLES))
def test_role_resources_belong_to_the_project(key):
    _, permissions = policies.ROLES[key]
    for statement in statements(permissions(NAMES, ACCOUNT)):
        for arn in as_list(statement["Resource"]):
            if arn != "*" and not arn.endswith(":catalog"):
                assert NAMES.project in arn or NAMES.glue_database in arn or arn.startswith(
                    "arn:aws:logs:"
                ), f"{key}: {arn} is not a resource of the project"


def test_trust_policies_name_one_service_each():
    for service, _ in policies.ROLES.values():
        trust = policies.trust(service)
        assert [s["Principal"]["Service"] for s in trust["Statement"]] == [service]


def test_shown_policies_hide_the_account_id():
    text = policies.show(policies.states_policy(NAMES, ACCOUNT), ACCOUNT)
    assert ACCOUNT not in text and "<account-id>" in text
    json.loads(text.replace("<account-id>", ACCOUNT))


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_every_arn_is_in_the_callers_partition(partition):
    caller = {"Account": ACCOUNT, "Arn": f"arn:{partition}:sts::{ACCOUNT}:assumed-role/admin/someone"}
    names = Names.for_caller("flightpipe", "us-east-1", caller)
    documents = [fn(names, ACCOUNT) for _, fn in policies.ROLES.values()] + [policies.trail_bucket_policy(names,
                                                                                                          ACCOUNT)]
    text = json.dumps(documents)
    arns = [a for a in re.findall(r'"(arn:[^"]+)"', text)]
    assert arns and all(a.startswith(f"arn:{partition}:") for a in arns), arns
    assert names.state_machine_arn(ACCOUNT).startswith(f"arn:{partition}:states:us-east-1:")


def test_a_malformed_caller_arn_is_refused():
    with pytest.raises(ValueError, match="not an ARN"):
        partition_of("flightpipe")
