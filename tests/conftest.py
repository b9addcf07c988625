"""Shared fixtures: one in-process local stack for the whole test session."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from flightpipe.local.session import LocalSession

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """A running local stack on 127.0.0.1, with boto3/awswrangler in this process pointed at it."""
    with LocalSession(tmp_path_factory.mktemp("flightpipe-home")) as stack:
        yield stack


@pytest.fixture
def aws(local_stack):
    """`aws("s3")` → a boto3 client for the local stack, as a user's code would create it."""
    return lambda service: boto3.client(service, region_name="us-east-1")
