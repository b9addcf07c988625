"""`flightpipe` — the command line.

    flightpipe local start [--port N] | stop | status     the local AWS emulator on 127.0.0.1
    flightpipe run provision|daily|backfill|teardown [-p name value]...   papermill runbooks
    flightpipe sql "SELECT ..."                           query the warehouse through the Data API, CSV out
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from flightpipe import config


# ---------------------------------------------------------------- flightpipe local
def _pid_file(folder: Path) -> Path:
    return folder / "stack.pid"


def _running_pid(folder: Path) -> int | None:
    path = _pid_file(folder)
    if not path.exists():
        return None
    pid = int(path.read_text().strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1):
            return True
    except OSError:
        return False


def local_start(port: int) -> int:
    try:
        from flightpipe_local.server import HOST, PortInUseError, check_port_free
    except ImportError:
        print("the local emulator is not installed: run `make setup` (or `pip install -e emulator`)", file=sys.stderr)
        return 1

    folder = config.state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    if pid := _running_pid(folder):
        print(f"the local stack is already running (pid {pid}) at {config.local_endpoint_file(folder).read_text()}")
        return 1
    try:
        check_port_free(port)
    except PortInUseError as exc:
        print(f"cannot start the local stack: {exc}. Choose another with --port.", file=sys.stderr)
        return 1
    log = folder / "stack.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "flightpipe_local.server", "--port", str(port), "--state-dir", str(folder)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # keeps running after this command returns
        )
    endpoint = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while not _answers(endpoint):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            tail = log.read_text(errors="replace")[-2000:]
            print(f"the local stack did not start; last lines of {log}:\n{tail}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    _pid_file(folder).write_text(str(proc.pid))
    config.local_endpoint_file(folder).write_text(endpoint)
    print(f"local stack running at {endpoint} (pid {proc.pid}; state and log in {folder})")
    return 0


def local_stop() -> int:
    folder = config.state_dir()
    pid = _running_pid(folder)
    if pid is None:
        print("the local stack is not running")
    else:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if _running_pid(folder) is None:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        print(f"local stack stopped (pid {pid})")
    for path in (_pid_file(folder), config.local_endpoint_file(folder)):
        path.unlink(missing_ok=True)
    return 0


def local_status() -> int:
    folder = config.state_dir()
    pid = _running_pid(folder)
    if pid is None:
        print(f"not running (state folder {folder})")
        return 1
    endpoint = config.local_endpoint_file(folder).read_text().strip()
    state = "running" if _answers(endpoint) else "not answering"
    print(f"{state}: {endpoint} (pid {pid}; state and log in {folder})")
    return 0 if state == "running" else 1


# ---------------------------------------------------------------- flightpipe sql
def sql(statement: str, target: str, region: str, project: str) -> int:
    tgt = config.use_target(target, region)
    frame = config.default_warehouse(tgt, project).query(statement)
    frame.to_csv(sys.stdout, index=False, lineterminator="\n")
    return 0


# ---------------------------------------------------------------- flightpipe run
def run(runbook: str, params: list[list[str]], target: str | None) -> int:
    from flightpipe.runbook import RunbookFailed, run_runbook

    overrides = {name: value for name, value in params}
    if target:
        overrides["target"] = target
    try:
        report = run_runbook(runbook, overrides)
    except RunbookFailed as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"runbook {runbook} succeeded; report: {report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flightpipe", description="Daily flights → Redshift runbook.")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="the local AWS emulator")
    local_sub = local.add_subparsers(dest="action", required=True)
    start = local_sub.add_parser("start", help="start it in the background")
    start.add_argument("--port", type=int, default=config.DEFAULT_LOCAL_PORT)
    local_sub.add_parser("stop", help="stop it")
    local_sub.add_parser("status", help="print its endpoint if it runs")

    run_p = sub.add_parser("run", help="execute a runbook with papermill")
    run_p.add_argument("runbook", choices=["provision", "daily", "backfill", "teardown", "demo"])
    run_p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    run_p.add_argument("--target", choices=config.TARGETS)

    sql_p = sub.add_parser("sql", help="run a query on the warehouse, print CSV")
    sql_p.add_argument("statement")
    sql_p.add_argument("--target", choices=config.TARGETS, default="local")
    sql_p.add_argument("--region", default=config.DEFAULT_REGION)
    sql_p.add_argument("--project", default="flightpipe", help="the project name given to the notebooks")

    args = parser.parse_args(argv)
    if args.command == "local":
        return {"start": lambda: local_start(args.port), "stop": local_stop, "status": local_status}[args.action]()
    if args.command == "sql":
        return sql(args.statement, args.target, args.region, args.project)
    return run(args.runbook, args.parameter, args.target)


if __name__ == "__main__":
    sys.exit(main())
