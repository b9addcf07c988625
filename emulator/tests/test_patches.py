"""Declared patches: checked before anything changes, applied by the first stack, reverted exactly by the last;
two stacks in one process keep their own Data API and Glue job runs, and their threads work for their own stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types

import boto3
import pytest

from flightpipe_local.patches import Patch, PatchSet, PatchTargetError
from flightpipe_local.ports import free_port
from flightpipe_local.server import LocalStack


class Base:
    def inherited(self):
        return "base"


class Model(Base):
    def own(self):
        return "moto"


def replacement(self):
    return "extended"


def test_patches_apply_and_revert_to_the_very_originals():
    own, module = Model.__dict__["own"], types.ModuleType("fake_engine")
    module.DELAY = 0.5
    settings = {"execute": False}
    declared = [
        Patch(Model, "own", replacement),
        Patch(Model, "inherited", replacement),  # defined on the base class: the subclass gets its own
        Patch.new(Model, "added", replacement),
        Patch(module, "DELAY", 0.05),
        Patch(settings, "execute", True),
        Patch.setting(settings, "port", "5055"),
    ]
    patches = PatchSet()
    patches.acquire(lambda: declared)
    patches.acquire(lambda: pytest.fail("a second stack must not declare again"))
    assert (Model().own(), Model().inherited(), Model().added()) == ("extended",) * 3
    assert module.DELAY == 0.05 and settings == {"execute": True, "port": "5055"}

    patches.release()  # one stack still runs: still patched
    assert Model().own() == "extended"
    patches.release()
    assert Model.__dict__["own"] is own
    assert "inherited" not in Model.__dict__ and Model().inherited() == "base"
    assert not hasattr(Model, "added")
    assert module.DELAY == 0.5 and settings == {"execute": False}
    assert not patches.applied


def test_a_moto_without_a_patched_name_fails_before_anything_changes():
    own = Model.__dict__["own"]
    declared = [
        Patch(Model, "own", replacement),
        Patch(Model, "renamed_in_moto", replacement),
        Patch.new(Model, "own", replacement),
    ]
    with pytest.raises(PatchTargetError) as err:
        PatchSet().acquire(lambda: declared)
    message = str(err.value)
    assert f"{__name__}.Model.renamed_in_moto no longer exists in moto" in message
    assert f"{__name__}.Model.own now exists in moto" in message
    assert Model.__dict__["own"] is own


# Runs in a fresh interpreter: the test session's own stack would keep the patches applied.
REVERT_CHECK = r"""
import json, sys, tempfile
from pathlib import Path
import boto3
from moto import mock_aws
from moto.core.config import default_user_config
from flightpipe_local import context
from flightpipe_local.patches import EXTENSIONS, _MISSING
from flightpipe_local.ports import free_port
from flightpipe_local.server import LocalStack, extension_patches

def pass_machine_status():
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="m", roleArn="arn:aws:iam::123456789012:role/r",
            definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        )["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn, name="e")["executionArn"]
        import time; time.sleep(0.5)
        return sfn.describe_execution(executionArn=execution)["status"]

def holds(patch, value):  # the environment keeps copies of its strings: compare settings by value
    return patch.current() == value if patch.kind == "set" else patch.current() is value

config_before = json.dumps(default_user_config, sort_keys=True)
stock_status = pass_machine_status()
tmp = Path(tempfile.mkdtemp())
first = LocalStack(tmp / "a", free_port())
originals = [(p, p.current()) for p in extension_patches(first.ctx)]  # what moto has before any stack
first.start()
second = LocalStack(tmp / "b", free_port()).start()
declared = EXTENSIONS.patches
applied = len(declared) == len(originals) and all(holds(p, p.replacement) for p in declared)
extended_status = pass_machine_status()
first.stop()
still_applied = all(holds(p, p.replacement) for p in declared)
second.stop()
not_restored = [p.name for p, original in originals if not holds(p, original)]
replacements = [p.replacement for p in declared if callable(p.replacement)]
left_in_moto = [  # no module of moto still holds a replacement (e.g. imported by value after patching)
    f"{name}.{attribute}" for name, module in list(sys.modules.items()) if name.startswith("moto")
    for attribute, value in list(vars(module).items()) if any(value is r for r in replacements)
]
print(json.dumps({
    "patches": len(declared), "applied": applied, "still_applied_after_first_stop": still_applied,
    "not_restored": not_restored, "left_in_moto": left_in_moto,
    "config_restored": json.dumps(default_user_config, sort_keys=True) == config_before,
    "stock_status": stock_status, "extended_status": extended_status, "after_status": pass_machine_status(),
    "registry_empty": not EXTENSIONS.applied and context._running == [],
}))
"""


def test_stopping_the_last_stack_gives_back_stock_moto():
    # Not pointed at this session's stack: the check uses its own stacks and moto's in-process mock.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "FLIGHTPIPE_"))}
    done = subprocess.run([sys.executable, "-c", REVERT_CHECK], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["patches"] >= 30
    assert found["applied"] and found["still_applied_after_first_stop"]
    assert found["not_restored"] == [] and found["left_in_moto"] == []
    assert found["config_restored"] and found["registry_empty"]
    # Stock moto records a Pass machine's execution as RUNNING; the extensions run it to SUCCEEDED.
    assert (found["stock_status"], found["extended_status"], found["after_status"]) == (
        "RUNNING",
        "SUCCEEDED",
        "RUNNING",
    )


def _wait_statement(rd, statement_id: str) -> dict:
    deadline = time.monotonic() + 30
    while (described := rd.describe_statement(Id=statement_id))["Status"] not in ("FINISHED", "FAILED", "ABORTED"):
        assert time.monotonic() < deadline, described
        time.sleep(0.02)
    return described


def test_two_stacks_in_one_process_keep_their_own_data_api_and_job_runs(tmp_path, local_stack):
    stacks = [LocalStack(tmp_path / name, free_port()).start() for name in ("a", "b")]
    try:
        a, b = (
            {
                service: boto3.client(
                    service, endpoint_url=stack.endpoint, region_name="us-east-1",
                    aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106 - placeholders
                )
                for service in ("redshift", "redshift-data", "s3", "glue")
            }
            for stack in stacks
        )
        a["redshift"].create_cluster(
            ClusterIdentifier="two-stacks", NodeType="ra3.xlplus", MasterUsername="admin",
            MasterUserPassword="Placeholder1", DBName="dev",
        )
        target = {"ClusterIdentifier": "two-stacks", "Database": "dev"}
        created = a["redshift-data"].execute_statement(Sql="CREATE TABLE only_in_a (n int)", **target)["Id"]
        assert _wait_statement(a["redshift-data"], created)["Status"] == "FINISHED"

        # moto's clusters are process-wide, the warehouses behind the Data API are each stack's own.
        in_b = b["redshift-data"].execute_statement(Sql="SELECT count(*) FROM only_in_a", **target)["Id"]
        assert _wait_statement(b["redshift-data"], in_b)["Status"] == "FAILED"
        with pytest.raises(b["redshift-data"].exceptions.ResourceNotFoundException):
            b["redshift-data"].describe_statement(Id=created)
        listed_in_b = {s["Id"] for s in b["redshift-data"].list_statements(Status="ALL")["Statements"]}
        assert created not in listed_in_b and in_b in listed_in_b

        a["s3"].create_bucket(Bucket="two-stacks-scripts")
        a["s3"].put_object(Bucket="two-stacks-scripts", Key="job.py", Body=b"print('ran')\n")
        b["glue"].create_job(
            Name="two-stacks-job", Role="arn:aws:iam::123456789012:role/glue",
            Command={"Name": "pythonshell", "ScriptLocation": "s3://two-stacks-scripts/job.py"},
        )
        run_id = b["glue"].start_job_run(JobName="two-stacks-job")["JobRunId"]
        deadline = time.monotonic() + 30
        while b["glue"].get_job_run(JobName="two-stacks-job", RunId=run_id)["JobRun"]["JobRunState"] != "SUCCEEDED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        output = (tmp_path / "b" / "glue" / "jobs" / "two-stacks-job" / run_id / "stdout.log").read_text()
        assert output.startswith("Glue runtime: ") and output.endswith("\nran\n")  # the banner, then the script
        assert not (tmp_path / "a" / "glue" / "jobs").exists() or not any((tmp_path / "a" / "glue" / "jobs").iterdir())

        stacks[0].stop()  # b keeps its Data API workers
        again = b["redshift-data"].execute_statement(Sql="SELECT 1", **target)["Id"]
        assert _wait_statement(b["redshift-data"], again)["Status"] == "FINISHED"
    finally:
        for stack in stacks:
            stack.stop()


def _client(stack: LocalStack, service: str):
    return boto3.client(
        service, endpoint_url=stack.endpoint, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",  # noqa: S106 - placeholders
    )


def test_executions_and_cloudtrail_deliveries_work_for_their_own_stack(tmp_path, local_stack):
    """An execution started on stack b (by StartExecution, or by b's CloudTrail → EventBridge delivery) makes its
    Glue call to b, not to the first stack of the process: the run's folder is under b's state folder."""
    stacks = [LocalStack(tmp_path / name, free_port()).start() for name in ("a", "b")]
    try:
        services = ("s3", "glue", "stepfunctions", "cloudtrail", "events")
        b = {service: _client(stacks[1], service) for service in services}
        job = "two-stacks-threads-job"
        b["glue"].create_job(
            Name=job, Role="arn:aws:iam::123456789012:role/glue", Command={"Name": "pythonshell"},
            ExecutionProperty={"MaxConcurrentRuns": 5},
        )
        run = {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun", "Parameters": {"JobName": job}}
        definition = {"StartAt": "Run", "States": {"Run": {**run, "End": True}}}
        machine = b["stepfunctions"].create_state_machine(
            name="two-stacks-threads", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]

        def runs_under(root) -> int:
            folder = root / "glue" / "jobs" / job
            return len(list(folder.iterdir())) if folder.exists() else 0

        def wait_for_runs(count: int) -> None:
            deadline = time.monotonic() + 30
            while runs_under(tmp_path / "b") < count:
                assert time.monotonic() < deadline, f"runs under b: {runs_under(tmp_path / 'b')}, expected {count}"
                time.sleep(0.05)

        b["stepfunctions"].start_execution(stateMachineArn=machine)
        wait_for_runs(1)

        b["s3"].create_bucket(Bucket="two-stacks-threads")
        b["cloudtrail"].create_trail(Name="two-stacks-threads", S3BucketName="two-stacks-threads")
        b["cloudtrail"].put_event_selectors(
            TrailName="two-stacks-threads",
            EventSelectors=[{"ReadWriteType": "WriteOnly", "DataResources": [
                {"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::two-stacks-threads/raw/"]},
            ]}],
        )
        b["cloudtrail"].start_logging(Name="two-stacks-threads")
        pattern = {"source": ["aws.s3"], "detail": {"requestParameters": {"bucketName": ["two-stacks-threads"]}}}
        b["events"].put_rule(Name="two-stacks-threads", EventPattern=json.dumps(pattern), State="ENABLED")
        b["events"].put_targets(Rule="two-stacks-threads", Targets=[{"Id": "sm", "Arn": machine}])
        b["s3"].put_object(Bucket="two-stacks-threads", Key="raw/x.csv", Body=b"x")
        wait_for_runs(2)

        assert runs_under(tmp_path / "a") == 0 and runs_under(local_stack.ctx.state_dir) == 0
    finally:
        for stack in stacks:
            stack.stop()


def test_state_machines_made_by_cloudformation_run_through_the_api(aws):
    """CloudFormation and the Step Functions API see the same (executing) backend."""
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": 1}, "End": True}}}
    template = {
        "Resources": {
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "StateMachineName": "made-by-cloudformation",
                    "DefinitionString": json.dumps(definition),
                    "RoleArn": "arn:aws:iam::123456789012:role/states",
                },
            }
        }
    }
    aws("cloudformation").create_stack(StackName="sfn-by-cfn", TemplateBody=json.dumps(template))
    sfn = aws("stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "made-by-cloudformation")
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.monotonic() + 10
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED" and json.loads(described["output"]) == {"ok": 1}
