"""What every extension of the local stack needs to know about the running stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID


@dataclass(frozen=True)
class StackContext:
    state_dir: Path  # the stack's folder: log, pid file, warehouse/<database>.duckdb, Glue job runs
    host: str  # always 127.0.0.1
    port: int
    region: str = "us-east-1"
    account_id: str = DEFAULT_ACCOUNT_ID

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"
