"""`make lab`: JupyterLab on 127.0.0.1, opened on notebooks/, beside a running local stack.

Starts the local stack if it is not running (`--port`, default 5055), then JupyterLab (`--lab-port`, default the
first free port from 8888) in the foreground. Its kernels and terminals inherit one environment: the stack's
`FLIGHTPIPE_HOME`, the emulator's `AWS_ENDPOINT_URL` with placeholder credentials and the region (so `aws` and
boto3 in a terminal reach the same stack as the notebooks), and the venv's commands first on PATH (`flightpipe`).
Kernels talk to the server over IPC sockets (`KernelManager.transport`), as under `flightpipe run`.

    python -m flightpipe.lab [--port 5055] [--lab-port 8888] [--root-dir notebooks]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import sys
from pathlib import Path

from flightpipe import cli, config
from flightpipe.runbook import NOTEBOOKS


def free_port_from(port: int) -> int:
    """`port` if nothing listens there on 127.0.0.1, else the next free one."""
    for candidate in range(port, port + 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    raise cli.CliError(f"no free port from {port} to {port + 99} on 127.0.0.1: choose one with --lab-port")


def lab_environment(endpoint: str, region: str = config.DEFAULT_REGION) -> dict[str, str]:
    """What the server, and so every kernel and terminal, sees: the same stack and the venv's commands."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "FLIGHTPIPE_HOME": str(config.state_dir()),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        **config.LOCAL_CREDENTIALS,
        "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")]),
        "VIRTUAL_ENV": str(Path(sys.executable).parents[1]),
    }


def lab_command(lab_port: int, root_dir: Path = NOTEBOOKS) -> list[str]:
    # Terminals run the user's shell as a plain interactive shell: a login shell (JupyterLab's choice when not
    # started from a terminal) would reset PATH from /etc/profile and lose the venv's commands.
    shell = os.environ.get("SHELL") or shutil.which("bash") or "sh"
    return [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={lab_port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root_dir}",
        "--KernelManager.transport=ipc",
        f"--ServerApp.terminado_settings={{'shell_command': [{shell!r}]}}",
        "--LabApp.news_url=None",  # no announcements fetched from the internet, no pop-up asking about them
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(["--ServerApp.allow_root=True"] if os.geteuid() == 0 else []),  # containers and CI run as root
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flightpipe.lab", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="the local stack's port, if it must be started (default 5055)")
    parser.add_argument("--lab-port", type=int, default=8888, help="JupyterLab's port, or the next free one")
    parser.add_argument("--root-dir", type=Path, default=NOTEBOOKS, help="the folder it opens on (notebooks/)")
    args = parser.parse_args(argv)

    def serve() -> int:
        cli.ensure_local_stack(args.port)
        endpoint = config.running_local_endpoint()
        lab_port = free_port_from(args.lab_port)
        token = secrets.token_hex(16)
        print(f"JupyterLab: http://127.0.0.1:{lab_port}/lab?token={token}   (Ctrl-C stops it; the local stack "
              f"at {endpoint} keeps running: `flightpipe local stop`)", flush=True)
        # the token travels in the environment (JUPYTER_TOKEN), not on a command line other users can list
        environment = {**lab_environment(endpoint), "JUPYTER_TOKEN": token}
        os.chdir(args.root_dir)  # where terminals open
        os.execvpe(sys.executable, lab_command(lab_port, args.root_dir), environment)
        return 0  # not reached: JupyterLab replaced this process

    return cli.report_errors(serve, debug=False)


if __name__ == "__main__":
    sys.exit(main())
