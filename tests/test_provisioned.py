"""`require_provisioned` asks for the project's resources by the ARNs they really have."""

from flightpipe import provisioned
from flightpipe.names import Names

ACCOUNT = "000000000000"


def test_the_state_machine_is_asked_for_in_the_callers_partition(monkeypatch):
    asked = []

    class Client:  # answers every call: everything exists
        def __getattr__(self, operation):
            return lambda **kwargs: asked.append((operation, kwargs)) or {}

    class Session:
        def __init__(self, region_name):
            self.region_name = region_name

        def client(self, service):
            return Client()

    monkeypatch.setattr(provisioned.boto3, "Session", Session)
    caller = {"Account": ACCOUNT, "Arn": f"arn:aws-cn:iam::{ACCOUNT}:user/operator"}
    names = Names.for_caller("demo", "cn-north-1", caller)
    assert provisioned.missing_resources(names, ACCOUNT, "cn-north-1") == []
    arn = f"arn:aws-cn:states:cn-north-1:{ACCOUNT}:stateMachine:demo-daily-ingest"  # IAM User Guide, "IAM identifiers"
    assert ("describe_state_machine", {"stateMachineArn": arn}) in asked
