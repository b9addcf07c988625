"""Shared fixtures: one in-process local stack for the whole test session."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from flightpipe.config import LOCAL_CREDENTIALS
from flightpipe.local.server import LocalStack, free_port

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """A running local stack on 127.0.0.1, with boto3/awswrangler in this process pointed at it."""
    state = tmp_path_factory.mktemp("flightpipe-home")
    stack = LocalStack(state, free_port()).start()
    env = {
        "AWS_ENDPOINT_URL": stack.endpoint,
        "FLIGHTPIPE_LOCAL_ENDPOINT": stack.endpoint,
        "FLIGHTPIPE_HOME": str(state),
        "AWS_DEFAULT_REGION": "us-east-1",
        **LOCAL_CREDENTIALS,
    }
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    yield stack
    stack.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def aws(local_stack):
    """`aws("s3")` → a boto3 client for the local stack, as a user's code would create it."""
    return lambda service: boto3.client(service, region_name="us-east-1")
