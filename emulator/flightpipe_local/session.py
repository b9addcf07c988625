"""A local stack for one process (a pytest session, a refresh of the stored notebook outputs).

Starts the stack in this process on a free port with a fresh state folder and points this process — and every
child it starts afterwards (Jupyter kernels, Glue job runs) — at it through the environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flightpipe_local.ports import free_port
from flightpipe_local.server import LocalStack

# Placeholder credentials: the emulator accepts any value; these grant nothing anywhere.
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


class LocalSession:
    def __init__(self, state_dir: Path | None = None, region: str = "us-east-1"):
        self._tmp = None if state_dir else tempfile.TemporaryDirectory(prefix="flightpipe-")
        self.state_dir = Path(state_dir or self._tmp.name)
        self.stack = LocalStack(self.state_dir, free_port(), region)
        self._saved: dict[str, str | None] = {}
        self.region = region

    def __enter__(self) -> LocalStack:
        self.stack.start()
        env = {
            "AWS_ENDPOINT_URL": self.stack.endpoint,
            "FLIGHTPIPE_LOCAL_ENDPOINT": self.stack.endpoint,
            "FLIGHTPIPE_HOME": str(self.state_dir),
            "AWS_DEFAULT_REGION": self.region,
            **LOCAL_CREDENTIALS,
        }
        self._saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        return self.stack

    def __exit__(self, *exc) -> None:
        self.stack.stop()
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._tmp:
            self._tmp.cleanup()
