"""What every extension of the local stack needs to know about the running stack, and which stack a call is for.

A stack's own state (its Data API statements and workers, its Glue job runs, the Step Functions engine's clients
for it) lives in its `StackContext.services`, not in module globals, so two stacks in one process keep theirs
apart. moto's own backends are process-wide: the stacks of one process share buckets, jobs and state machines.

`current()` is the stack a call is for: the stack whose server received the request being handled (its WSGI app
sets it, see server.py) or whose worker thread runs (`StackThread`: a thread started while handling a call for
a stack works for that stack, e.g. the Step Functions engine's threads, crawls, CloudTrail delivery); elsewhere
(in-process calls under `mock_aws`) the first stack started in this process.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from moto.core import DEFAULT_ACCOUNT_ID

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class StackContext:
    state_dir: Path  # the stack's folder: log, pid file, warehouse/<database>.duckdb, Glue job runs
    host: str  # always 127.0.0.1
    port: int
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID
    services: dict[str, Any] = field(default_factory=dict, repr=False)  # each extension's state, by name
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def service(self, name: str, create: Callable[[], T]) -> T:
        """This stack's state for the extension `name`, created on first use."""
        with self._lock:
            if name not in self.services:
                self.services[name] = create()
            return self.services[name]


class NoStackError(RuntimeError):
    pass


_serving: ContextVar[StackContext | None] = ContextVar("flightpipe_local_stack", default=None)
_running: list[StackContext] = []
_running_lock = threading.Lock()


def current() -> StackContext:
    """The stack this call is for (see the module docstring)."""
    ctx = _serving.get()
    if ctx is not None:
        return ctx
    with _running_lock:
        if _running:
            return _running[0]
    raise NoStackError("no local stack is running in this process: start one first (`flightpipe local start`)")


@contextmanager
def serving(ctx: StackContext) -> Iterator[StackContext]:
    """Calls made inside are for `ctx` (a request its server handles, work its threads do)."""
    token = _serving.set(ctx)
    try:
        yield ctx
    finally:
        _serving.reset(token)


def register(ctx: StackContext) -> None:
    with _running_lock:
        _running.append(ctx)


def unregister(ctx: StackContext) -> None:
    with _running_lock:
        if ctx in _running:
            _running.remove(ctx)


class StackThread(threading.Thread):
    """A thread that works for the stack its creator worked for: it runs in a copy of the creator's context
    (a plain thread starts with an empty one, so `current()` would fall back to the first stack)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._creator_context = contextvars.copy_context()

    def run(self) -> None:
        self._creator_context.run(super().run)
