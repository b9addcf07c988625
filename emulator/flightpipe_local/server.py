"""Run moto (pinned) on 127.0.0.1 with the extensions that make the pipeline's chain execute.

    python -m flightpipe_local.server --port 5055 --state-dir ~/.flightpipe

In tests and notebooks the same stack runs in-process: `LocalStack(state_dir, port).start()`.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import threading
from pathlib import Path

import moto
from moto.core.config import default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from flightpipe_local import MOTO_VERSION
from flightpipe_local.context import StackContext

HOST = "127.0.0.1"
log = logging.getLogger("flightpipe_local")


class PortInUseError(RuntimeError):
    pass


class MotoVersionError(RuntimeError):
    pass


def check_moto_version(installed: str = moto.__version__) -> None:
    """The extensions patch moto's internals as they are in one release: refuse any other."""
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the local stack needs moto {MOTO_VERSION} but moto {installed} is installed: "
            f"run `pip install 'moto[server]=={MOTO_VERSION}'` (or `make setup`)"
        )


def check_port_free(port: int, host: str = HOST) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(f"port {port} on {host} is already in use ({exc.strerror})") from None


def free_port(host: str = HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def install_extensions(ctx: StackContext) -> None:
    """Patch moto's backends so the chain S3 → CloudTrail → EventBridge → Step Functions → Glue →
    Redshift Data API → SNS really executes. Idempotent within a process."""
    from flightpipe_local import cloudtrail, events, glue, stepfunctions
    from flightpipe_local.redshift import data_api

    # Step Functions' engine calls the other services back over HTTP on this port.
    os.environ["MOTO_PORT"] = str(ctx.port)
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    for module in (data_api, glue, stepfunctions, events, cloudtrail):
        module.install(ctx)


class LocalStack:
    """The emulator in this process: moto's WSGI app on 127.0.0.1 plus the extensions."""

    def __init__(self, state_dir: Path, port: int, region: str = "us-east-1"):
        self.ctx = StackContext(state_dir=Path(state_dir), host=HOST, port=port, region=region)
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return self.ctx.endpoint

    def start(self) -> LocalStack:
        check_moto_version()
        check_port_free(self.ctx.port)
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        install_extensions(self.ctx)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns what matters
        self._server = ThreadedMotoServer(ip_address=HOST, port=self.ctx.port, verbose=False)
        self._server.start()
        log.info("local stack listening on %s (state in %s)", self.endpoint, self.ctx.state_dir)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()
            self._server = None
        from flightpipe_local import glue
        from flightpipe_local.redshift import data_api

        glue.shutdown()
        data_api.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stack = LocalStack(args.state_dir, args.port, args.region).start()
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    stack.stop()


if __name__ == "__main__":
    main()
