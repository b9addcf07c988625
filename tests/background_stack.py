"""A background stack as `flightpipe local start` runs it, for the tests that start, stop or kill one."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path


def flightpipe(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, with this process's environment unless `env` is given."""
    return subprocess.run([sys.executable, "-m", "flightpipe.cli", *args], env=os.environ.copy() if env is None
                          else env, capture_output=True, text=True, timeout=timeout)


class BackgroundStack:
    """The stack of `home` on `port`, driven by the CLI with this process's environment (which names them)."""

    def __init__(self, home: Path, port: int):
        self.home, self.port = home, port

    def start(self) -> None:
        started = flightpipe("local", "start", "--port", str(self.port))
        assert started.returncode == 0, started.stderr

    def stop(self) -> None:
        stopped = flightpipe("local", "stop")
        assert stopped.returncode == 0, stopped.stderr

    @property
    def pid(self) -> int:
        return int((self.home / "stack.pid").read_text())

    def saved_at(self) -> dt.datetime | None:
        current = self.home / "snapshot" / "current"
        if not current.exists():
            return None
        manifest = self.home / "snapshot" / current.read_text().strip() / "manifest.json"
        return dt.datetime.fromisoformat(json.loads(manifest.read_text())["taken_at"]) if manifest.exists() else None

    def log(self) -> str:
        return (self.home / "stack.log").read_text(errors="replace")

    def peak_rss_mb(self) -> float:
        """The stack process's peak resident memory so far (VmHWM)."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
