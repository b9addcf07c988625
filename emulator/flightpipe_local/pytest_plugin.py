"""pytest plugin: local stacks for tests and for nbval.

- Fixtures `local_stack` (one in-process stack per test session, this process's boto3 pointed at it) and `aws`
  (`aws("s3")` → a boto3 client for it, created as a user's code would).
- With `--nbval`, the notebooks run against one fresh stack that starts before the first notebook and stops after
  the last; kernels inherit its endpoint through the environment, exactly as after `flightpipe local start`.

Enable with `pytest_plugins = ["flightpipe_local.pytest_plugin"]` in a conftest, or `-p flightpipe_local.pytest_plugin`.
"""

from __future__ import annotations

import boto3
import pytest

from flightpipe_local.session import LocalSession

_nbval_session: LocalSession | None = None


def pytest_sessionstart(session):
    global _nbval_session
    if session.config.getoption("nbval", False) or session.config.getoption("nbval_lax", False):
        _nbval_session = LocalSession()
        _nbval_session.__enter__()


def pytest_sessionfinish(session):
    global _nbval_session
    if _nbval_session is not None:
        _nbval_session.__exit__(None, None, None)
        _nbval_session = None


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory):
    """A running local stack on 127.0.0.1, with boto3/awswrangler in this process pointed at it."""
    with LocalSession(tmp_path_factory.mktemp("flightpipe-home")) as stack:
        yield stack


@pytest.fixture
def aws(local_stack):
    """`aws("s3")` → a boto3 client for the local stack, as a user's code would create it."""
    return lambda service: boto3.client(service, region_name=local_stack.ctx.region)
