"""Run moto (pinned) on 127.0.0.1 with the extensions that make the pipeline's chain execute.

    python -m flightpipe_local.server --port 5055 --state-dir ~/.flightpipe

This way (what `flightpipe local start` runs) the stack keeps its state in the state folder across stops and
crashes (`persistence.py`). In tests and notebooks the same stack runs in-process and starts empty:
`LocalStack(state_dir, port).start()`.
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
from flightpipe_local.persistence import SavedStateError

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
    """Refuse a port something listens on. The server binds with SO_REUSEADDR (werkzeug's server sets
    `allow_reuse_address`), so the check does too: a TIME_WAIT socket left by the last stack is no obstacle."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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


# Object bodies larger than this are kept in a temporary file, not in memory (moto spools each version's
# body in a SpooledTemporaryFile of this size; its default, 5 MB, keeps nearly every object in memory).
S3_BODY_MEMORY_BYTES = 64 * 1024
DEFAULT_SNAPSHOT_SECONDS = 5.0


class _GatedMotoServer(ThreadedMotoServer):
    """moto's threaded server with the request gate of the snapshots in front of its WSGI app."""

    def __init__(self, gate_factory, **kwargs):
        super().__init__(**kwargs)
        self._gate_factory = gate_factory

    def _server_entry(self) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        app = self._gate_factory(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


class LocalStack:
    """The emulator in this process: moto's WSGI app on 127.0.0.1 plus the extensions.

    With `snapshot_seconds`, the stack keeps its state in its folder (`persistence.py`): it restores the
    last snapshot at start, saves one every `snapshot_seconds` when something changed, and a last one at stop."""

    def __init__(self, state_dir: Path, port: int, region: str = "us-east-1", snapshot_seconds: float | None = None):
        self.ctx = StackContext(state_dir=Path(state_dir), host=HOST, port=port, region=region)
        self.snapshot_seconds = snapshot_seconds
        self._server: ThreadedMotoServer | None = None
        self.gate = None
        self.snapshots = None
        self._saver = None

    @property
    def endpoint(self) -> str:
        return self.ctx.endpoint

    def start(self) -> LocalStack:
        from flightpipe_local import persistence

        check_moto_version()
        check_port_free(self.ctx.port)
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(S3_BODY_MEMORY_BYTES))
        install_extensions(self.ctx)
        if self.snapshot_seconds:
            if killed := persistence.kill_orphaned_job_processes(self.ctx.state_dir):
                log.warning("killed %d Glue job process(es) left by the previous stack: %s", len(killed), killed)
            self.snapshots = persistence.Snapshots(self.ctx.state_dir)
            self.snapshots.restore()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns what matters

        def gate(app):
            self.gate = persistence.RequestGate(app)
            return self.gate

        self._server = _GatedMotoServer(gate, ip_address=HOST, port=self.ctx.port, verbose=False)
        self._server.start()
        if self.snapshots:
            self._saver = persistence.Saver(self.snapshots, self.gate, self.snapshot_seconds)
            self._saver.start()
        log.info("local stack listening on %s (state in %s)", self.endpoint, self.ctx.state_dir)
        return self

    def stop(self) -> None:
        if self._saver:
            self._saver.stop()
            self._saver = None
            # The last snapshot; the gate stays shut, so nothing changes between it and the exit.
            try:
                self.snapshots.take(self.gate, wait_seconds=25, last=True)
                log.info("state saved in %s", self.snapshots.root)
            except Exception:  # stop anyway: the last periodic snapshot is what the next start restores
                log.exception("could not save the state at stop")
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
    parser.add_argument("--snapshot-seconds", type=float, default=DEFAULT_SNAPSHOT_SECONDS,
                        help="how often the state is saved when it changed (0: never, nothing is restored)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stack = LocalStack(args.state_dir, args.port, args.region, snapshot_seconds=args.snapshot_seconds or None)
    try:
        stack.start()
    except SavedStateError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from None
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    stack.stop()


if __name__ == "__main__":
    main()
