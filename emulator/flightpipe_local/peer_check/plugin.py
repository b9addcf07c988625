"""pytest plugin for the extended run: one local stack for the whole run, so moto's tests meet the patched moto.

    pytest -p flightpipe_local.peer_check.plugin tests/test_glue
"""

from __future__ import annotations

import tempfile

from flightpipe_local.ports import free_port
from flightpipe_local.server import LocalStack

_stack: LocalStack | None = None
_state: tempfile.TemporaryDirectory | None = None


def pytest_configure(config) -> None:
    global _stack, _state
    _state = tempfile.TemporaryDirectory(prefix="flightpipe-peer-check-")
    _stack = LocalStack(_state.name, free_port()).start()


def pytest_unconfigure(config) -> None:
    global _stack, _state
    if _stack is not None:
        _stack.stop()
        _stack = None
    if _state is not None:
        _state.cleanup()
        _state = None
