"""Regression of the notebooks (`pytest --nbval notebooks/`): they run in order against one fresh local stack.

The stack starts before the first notebook and stops after the last; kernels inherit its endpoint through the
environment, exactly as when a user runs the notebooks after `flightpipe local start`.
"""

from __future__ import annotations

_session = None


def pytest_sessionstart(session):
    global _session
    if session.config.getoption("nbval", False) or session.config.getoption("nbval_lax", False):
        from flightpipe.local.session import LocalSession

        _session = LocalSession()
        _session.__enter__()


def pytest_sessionfinish(session):
    if _session is not None:
        _session.__exit__(None, None, None)
