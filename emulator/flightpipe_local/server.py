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
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from flightpipe_local import MOTO_VERSION, context
from flightpipe_local.context import StackContext
from flightpipe_local.patches import EXTENSIONS, Patch

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


def extension_patches(ctx: StackContext) -> list[Patch]:
    """Every change the extensions make to moto, as each service module declares it."""
    from flightpipe_local import cloudtrail, events, glue, stepfunctions
    from flightpipe_local.redshift import data_api

    return [
        # moto's own engine callbacks (Lambda, CloudFormation custom resources) find the server by MOTO_PORT.
        Patch.setting(os.environ, "MOTO_PORT", str(ctx.port)),
        *data_api.patches(),
        *glue.patches(),
        *stepfunctions.patches(),
        *events.patches(),
        *cloudtrail.patches(),
    ]


def _service_modules():
    from flightpipe_local import cloudtrail, events, glue, stepfunctions
    from flightpipe_local.redshift import data_api

    return [data_api, glue, stepfunctions, events, cloudtrail]


def install_extensions(ctx: StackContext) -> None:
    """Make the chain S3 → CloudTrail → EventBridge → Step Functions → Glue → Redshift Data API → SNS really
    execute for `ctx`: moto is patched by the first stack of the process; each stack prepares its own state."""
    context.register(ctx)
    try:
        EXTENSIONS.acquire(lambda: extension_patches(ctx))
    except Exception:
        context.unregister(ctx)
        raise
    try:
        for module in _service_modules():
            module.install(ctx)
    except Exception:
        uninstall_extensions(ctx)
        raise


def uninstall_extensions(ctx: StackContext) -> None:
    """Stop `ctx`'s work (job runs, Data API workers); the last stack of the process reverts moto's patches."""
    for module in _service_modules():
        shutdown = getattr(module, "shutdown", None)
        if shutdown is not None:
            shutdown(ctx)
    context.unregister(ctx)
    EXTENSIONS.release()


class _ServingStack:
    """moto's WSGI app, each request handled as a call for this stack (`context.current()`)."""

    def __init__(self, ctx: StackContext):
        self.ctx = ctx
        self.app = DomainDispatcherApplication(create_backend_app)

    def __call__(self, environ, start_response):
        with context.serving(self.ctx):
            return self.app(environ, start_response)


class LocalStack:
    """The emulator in this process: moto's WSGI app on 127.0.0.1 plus the extensions."""

    def __init__(self, state_dir: Path, port: int, region: str = "us-east-1"):
        self.ctx = StackContext(state_dir=Path(state_dir), host=HOST, port=port, region=region)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return self.ctx.endpoint

    def start(self) -> LocalStack:
        check_moto_version()
        check_port_free(self.ctx.port)
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        install_extensions(self.ctx)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns what matters
        try:
            self._server = make_server(
                HOST, self.ctx.port, _ServingStack(self.ctx), threaded=True, request_handler=MotoRequestHandler
            )
        except OSError:
            uninstall_extensions(self.ctx)
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"stack-{self.ctx.port}", daemon=True)
        self._thread.start()
        log.info("local stack listening on %s (state in %s)", self.endpoint, self.ctx.state_dir)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None
        uninstall_extensions(self.ctx)


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
