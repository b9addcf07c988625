"""pytest plugin: with `--nbval`, run the notebooks against one fresh local stack.

The stack starts before the first notebook and stops after the last; kernels inherit its endpoint through the
environment, exactly as when a user runs the notebooks after `flightpipe local start`. Enabled for this
repository by the root `conftest.py`; elsewhere with `pytest -p flightpipe.local.nbval_plugin --nbval …`.
"""

from __future__ import annotations

from flightpipe.local.session import LocalSession

_session: LocalSession | None = None


def pytest_sessionstart(session):
    global _session
    if session.config.getoption("nbval", False) or session.config.getoption("nbval_lax", False):
        _session = LocalSession()
        _session.__enter__()


def pytest_sessionfinish(session):
    global _session
    if _session is not None:
        _session.__exit__(None, None, None)
        _session = None
