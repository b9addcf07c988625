"""The one seam between targets: `local` points boto3 at the emulator, `aws` leaves the SDK's own defaults."""

import os

import boto3
import pytest

from flightpipe import config


@pytest.fixture
def clean_env(monkeypatch):
    """No target chosen yet; whatever `use_target` changes in the environment is put back afterwards."""
    saved = dict(os.environ)
    for key in ("AWS_ENDPOINT_URL", "FLIGHTPIPE_LOCAL_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.pop(key, None)
    yield monkeypatch
    os.environ.clear()
    os.environ.update(saved)


def test_local_points_every_client_at_the_running_stack(clean_env, tmp_path):
    clean_env.setenv("FLIGHTPIPE_HOME", str(tmp_path))
    config.local_endpoint_file().write_text("http://127.0.0.1:5999")
    target = config.use_target("local", "eu-west-1")
    assert target.endpoint_url == "http://127.0.0.1:5999"
    client = boto3.client("s3")
    assert client.meta.endpoint_url == "http://127.0.0.1:5999" and client.meta.region_name == "eu-west-1"


def test_aws_undoes_local_and_keeps_real_settings(clean_env, tmp_path):
    clean_env.setenv("FLIGHTPIPE_HOME", str(tmp_path))
    config.local_endpoint_file().write_text("http://127.0.0.1:5999")
    config.use_target("local")
    target = config.use_target("aws", "us-west-2")
    assert target.endpoint_url is None
    assert boto3.client("s3").meta.endpoint_url == "https://s3.us-west-2.amazonaws.com"
    assert "AWS_ACCESS_KEY_ID" not in os.environ  # the placeholders are gone


def test_local_without_a_stack_says_how_to_start_one(clean_env, tmp_path):
    clean_env.setenv("FLIGHTPIPE_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match="flightpipe local start"):
        config.use_target("local")


def test_unknown_target_is_refused(clean_env):
    with pytest.raises(ValueError, match="local"):
        config.use_target("azure")


def test_each_target_has_its_own_waits_and_an_unset_parameter_means_the_targets_value():
    local, aws = config.WAITS["local"], config.WAITS["aws"]
    # AWS: a crawl alone takes 1-3 minutes and the Step Functions API is throttled, so wait longer, poll less often
    assert aws.execution >= 600 and aws.poll >= 5 and aws.machine_poll >= 10
    assert local.execution < aws.execution and local.poll < aws.poll
    assert config.Target("aws", "us-east-1", None).waits is aws
    assert aws.or_default(None, "execution") == aws.execution and aws.or_default("", "poll") == aws.poll
    assert aws.or_default(42, "execution") == 42.0 and aws.or_default("7.5", "poll") == 7.5
    assert aws.or_default(0, "machine_poll") == 0.0  # a Wait of 0 seconds is the user's to choose
