"""`flightpipe` — the command line.

    flightpipe local start [--port N] [--fresh] | stop | status   the local AWS emulator on 127.0.0.1 (state kept)
    flightpipe run RUNBOOK [-p name value]... [--port N]   papermill runbooks (`run RUNBOOK --help`: parameters)
    flightpipe sql "SELECT ..."                           query the warehouse through the Data API, CSV out
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from flightpipe import config


# ---------------------------------------------------------------- flightpipe local
def _pid_file(folder: Path) -> Path:
    return folder / "stack.pid"


def _running_pid(folder: Path) -> int | None:
    """The pid of this folder's stack if that process is alive and is ours. `kill(pid, 0)` alone also
    succeeds for a zombie (a killed stack nobody reaped) and for an unrelated process that reused the pid."""
    path = _pid_file(folder)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError, PermissionError):
        return None
    return pid if _is_our_stack(pid, folder) else None


def _is_our_stack(pid: int, folder: Path) -> bool:
    proc = Path("/proc") / str(pid)
    if not proc.exists():  # no procfs (macOS): ask ps
        found = subprocess.run(["ps", "-o", "stat=", "-o", "command=", "-p", str(pid)],
                               capture_output=True, text=True, check=False).stdout.strip()
        state, _, command = found.partition(" ")
        return bool(found) and not state.startswith("Z") and _names_stack(command.split(), folder)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False  # it ended meanwhile
    return state != "Z" and _names_stack(argv, folder)


def _names_stack(argv: list[str], folder: Path) -> bool:
    return "flightpipe_local.server" in argv and str(folder) in argv


def _answers(endpoint: str) -> bool:
    """True if the stack answers HTTP. Its dashboard page is cheap whatever the stack holds (`data.json`
    serialises every resource: seconds for a large state)."""
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # an error status is an answer too
    except OSError:
        return False


def local_start(port: int, fresh: bool = False) -> int:
    try:
        from flightpipe_local.ports import HOST, PortInUseError, check_port_free  # not moto: the stack imports it
    except ImportError:
        print("the local emulator is not installed: run `make setup` (or `pip install -e emulator`)", file=sys.stderr)
        return 1

    folder = _state_folder()
    folder.mkdir(parents=True, exist_ok=True)
    if pid := _running_pid(folder):
        endpoint_file = config.local_endpoint_file(folder)
        endpoint = endpoint_file.read_text().strip() if endpoint_file.exists() else "(no endpoint file)"
        if endpoint_file.exists() and _answers(endpoint):
            print(f"the local stack is already running (pid {pid}) at {endpoint}")
        else:
            print(f"the local stack (pid {pid}) runs but does not answer at {endpoint}: "
                  "run `flightpipe local stop`, then start it again", file=sys.stderr)
        return 1
    try:
        check_port_free(port)
    except PortInUseError as exc:
        print(f"cannot start the local stack: {exc}. Choose another with --port.", file=sys.stderr)
        return 1
    if fresh:
        from flightpipe_local.persistence import forget_state

        forget_state(folder)
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
    deadline = time.monotonic() + 120  # restoring a large saved state takes a while
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
    folder = _state_folder()
    pid = _running_pid(folder)
    if pid is None:
        print("the local stack is not running")
    else:
        os.kill(pid, signal.SIGTERM)  # the stack saves its state, then exits
        deadline = time.monotonic() + 60
        while _running_pid(folder) is not None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)  # its last periodic save is what the next start restores
                break
            time.sleep(0.1)
        print(f"local stack stopped (pid {pid}); its state is kept in {folder}")
    for path in (_pid_file(folder), config.local_endpoint_file(folder)):
        path.unlink(missing_ok=True)
    return 0


def local_status() -> int:
    folder = _state_folder()
    pid = _running_pid(folder)
    if pid is None:
        print(f"not running (state folder {folder})")
        return 1
    endpoint_file = config.local_endpoint_file(folder)
    endpoint = endpoint_file.read_text().strip() if endpoint_file.exists() else "(no endpoint file)"
    state = "running" if endpoint_file.exists() and _answers(endpoint) else "not answering"
    print(f"{state}: {endpoint} (pid {pid}; state and log in {folder})")
    return 0 if state == "running" else 1


def _state_folder() -> Path:
    return config.state_dir().resolve()  # the stack's command line names it; compare like with like


# ---------------------------------------------------------------- errors people see
class CliError(Exception):
    """A failure the user can fix: its message (one or two lines) is all they see."""


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain(text: str) -> str:
    """One message without terminal colour codes."""
    return _ANSI.sub("", str(text)).strip()


# ---------------------------------------------------------------- flightpipe sql
def sql(statement: str, target: str, region: str, project: str) -> int:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from flightpipe.provisioned import provision_hint
    from flightpipe.warehouse import StatementFailed

    try:
        tgt = config.use_target(target, region)
    except RuntimeError as exc:
        raise CliError(str(exc)) from exc
    try:
        warehouse = config.default_warehouse(tgt, project)
        frame = warehouse.query(statement)
    except EndpointConnectionError as exc:
        raise CliError(f"the local stack at {tgt.endpoint_url} does not answer: start it with "
                       "`flightpipe local start`") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if exc.operation_name == "DescribeSecret" and error.get("Code") == "ResourceNotFoundException":
            raise CliError(f"project {project!r} is not provisioned on {tgt.name} (no warehouse secret): "
                           f"{provision_hint(project, notebooks=False)}") from exc
        raise CliError(f"Redshift refused the statement: {plain(error.get('Message', exc))}") from exc
    except StatementFailed as exc:
        raise CliError(f"Redshift refused the statement: {plain(exc)}") from exc
    frame.to_csv(sys.stdout, index=False, lineterminator="\n")
    return 0


# ---------------------------------------------------------------- flightpipe run
def _listening(endpoint: str) -> bool:
    """Something accepts connections at `endpoint` (a cheap probe: the moto state dump grows with the state)."""
    host, _, port = endpoint.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def ensure_local_stack(port: int | None) -> None:
    """The local stack answers: the running one (on `port`, if given), or one started now."""
    endpoint = config.running_local_endpoint()
    if endpoint and _listening(endpoint):
        if port and not endpoint.endswith(f":{port}"):
            raise CliError(f"the local stack already runs at {endpoint}: leave out --port, "
                           "or stop it first with `flightpipe local stop`")
        return
    if os.environ.get("FLIGHTPIPE_LOCAL_ENDPOINT"):
        raise CliError(f"FLIGHTPIPE_LOCAL_ENDPOINT={endpoint} does not answer: start that stack or unset the variable")
    if local_start(port or config.DEFAULT_LOCAL_PORT) != 0:
        raise CliError("the runbook needs the local stack: give a free port with --port N (`PORT=N make run`)")


def run(runbook: str, params: list[list[str]], target: str | None, port: int | None = None) -> int:
    from flightpipe.runbook import check_parameters, describe, run_runbook

    overrides = {name: value for name, value in params}
    if target:
        overrides["target"] = target
    check_parameters(describe(runbook), overrides)  # refuse a bad call before starting anything
    if overrides.get("target", "local") == "local":
        ensure_local_stack(port)
    elif port:
        raise CliError("--port is for the local target only")
    report = run_runbook(runbook, overrides, cwd=Path.cwd(), progress=sys.stdout)
    print(f"runbook {runbook} succeeded; report: {report}")
    return 0


def parameters_help(name: str) -> str:
    """The runbook's parameters, read from its notebooks' `parameters` cells: name, default, comment."""
    from flightpipe.runbook import describe

    params = describe(name).parameters()
    width = max(len(p.name) for p in params)
    defaults = {p.name: "(required)" if p.required else p.default for p in params}
    dwidth = max(len(d) for d in defaults.values())
    lines = ["parameters (-p NAME VALUE), from the notebooks' parameters cells:"]
    lines += [f"  {p.name:<{width}}  {defaults[p.name]:<{dwidth}}  {p.comment}".rstrip() for p in params]
    return "\n".join(lines)


class _RunbookHelp(argparse.Action):
    """`flightpipe run NAME --help`: the usual help, then the runbook's parameters (read only when asked)."""

    def __call__(self, parser, namespace, values, option_string=None):
        parser.epilog = parameters_help(parser.prog.split()[-1])
        parser.print_help()
        parser.exit()


def _runbook_description(path: Path) -> str:
    return " ".join(line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#"))


def add_run_parser(sub) -> None:
    from flightpipe.runbook import RUNBOOKS

    run_p = sub.add_parser("run", help="execute a runbook with papermill",
                           description="Execute a runbook's notebooks; `flightpipe run RUNBOOK --help` lists its "
                                       "parameters.")
    books = run_p.add_subparsers(dest="runbook", required=True, metavar="RUNBOOK")
    for path in sorted(RUNBOOKS.glob("*.yaml")):
        about = _runbook_description(path)
        book = books.add_parser(path.stem, help=about, description=about, add_help=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        book.add_argument("-h", "--help", action=_RunbookHelp, nargs=0, help="show the parameters and exit")
        book.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
        book.add_argument("--target", choices=config.TARGETS)
        book.add_argument("--port", type=int, help="local target: the stack's port (started if not running)")
        book.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def add_sql_parser(sub) -> None:
    sql_p = sub.add_parser("sql", help="run a query on the warehouse, print CSV")
    sql_p.add_argument("statement")
    sql_p.add_argument("--target", choices=config.TARGETS, default="local")
    sql_p.add_argument("--region", default=config.DEFAULT_REGION)
    sql_p.add_argument("--project", default=config.DEFAULT_PROJECT, help="the project name given to the notebooks")
    sql_p.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def report_errors(command, debug: bool) -> int:
    """Run `command`; errors become one or two plain lines (the traceback with --debug), Ctrl-C exits 130."""
    from flightpipe.provisioned import PlainError
    from flightpipe.runbook import RunbookFailed

    try:
        return command()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (CliError, RunbookFailed, PlainError) as exc:
        if debug:
            raise
        print(plain(exc), file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            raise
        first = plain(exc).splitlines()[0] if plain(exc) else ""
        print(f"{type(exc).__name__}: {first}\n(run again with --debug for the traceback)", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flightpipe", description="Daily flights → Redshift runbook.")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="the local AWS emulator")
    local_sub = local.add_subparsers(dest="action", required=True)
    start = local_sub.add_parser("start", help="start it in the background")
    start.add_argument("--port", type=int, default=config.DEFAULT_LOCAL_PORT)
    start.add_argument("--fresh", action="store_true",
                       help="forget the saved state (S3, catalog, executions, warehouse …) and start empty")
    local_sub.add_parser("stop", help="stop it")
    local_sub.add_parser("status", help="print its endpoint if it runs")

    add_run_parser(sub)
    add_sql_parser(sub)

    args = parser.parse_args(argv)
    if args.command == "local":
        actions = {"start": lambda: local_start(args.port, args.fresh), "stop": local_stop, "status": local_status}
        return actions[args.action]()
    if args.command == "sql":
        return report_errors(lambda: sql(args.statement, args.target, args.region, args.project), args.debug)
    return report_errors(lambda: run(args.runbook, args.parameter, args.target, args.port), args.debug)


if __name__ == "__main__":
    sys.exit(main())
