"""Write lines to CloudWatch Logs in the local stack, where AWS users look for crawler and job output."""

from __future__ import annotations

import time


def put_log_lines(backend, group: str, stream: str, lines: list[str]) -> None:
    """Append `lines` to `group`/`stream` in the account and region of the moto `backend` writing them
    (both created if absent; no lines: just make sure they exist)."""
    from moto.logs.models import logs_backends

    logs = logs_backends[backend.account_id][backend.region_name]
    logs.ensure_log_group(group)
    if stream not in logs.groups[group].streams:
        logs.groups[group].create_log_stream(stream)
    if lines:
        now = int(time.time() * 1000)
        logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])
