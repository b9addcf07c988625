"""Run moto (pinned) on 127.0.0.1 with the extensions that make the pipeline's chain execute.

    python -m flightpipe_local.server --port 5055 --state-dir ~/.flightpipe

This way (what `flightpipe local start` runs) the stack keeps its state in the state folder across stops and
crashes (`persistence.py`). In tests and notebooks the same stack runs in-process and starts empty:
`LocalStack(state_dir, port).start()`; `restart_from(snapshot)` then gives it the state another stack saved.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import threading
from pathlib import Path

import moto
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from flightpipe_local import MOTO_VERSION, context, persistence
from flightpipe_local.context import StackContext
from flightpipe_local.patches import EXTENSIONS, Patch
from flightpipe_local.persistence import SavedStateError
from flightpipe_local.ports import HOST, check_port_free

log = logging.getLogger("flightpipe_local")


class MotoVersionError(RuntimeError):
    pass


def check_moto_version(installed: str = moto.__version__) -> None:
    """The extensions patch moto's internals as they are in one release: refuse any other."""
    if installed != MOTO_VERSION:
        raise MotoVersionError(
            f"the local stack needs moto {MOTO_VERSION} but moto {installed} is installed: "
            f"run `pip install 'moto[server]=={MOTO_VERSION}'` (or `make setup`)"
        )


def extension_patches(ctx: StackContext) -> list[Patch]:
    """Every change the extensions make to moto, as each service module declares it."""
    from flightpipe_local import cloudtrail, events, glue, s3_versions, stepfunctions, timestamps
    from flightpipe_local.redshift import data_api

    return [
        # moto's own engine callbacks (Lambda, CloudFormation custom resources) find the server by MOTO_PORT.
        Patch.setting(os.environ, "MOTO_PORT", str(ctx.port)),
        *data_api.patches(),
        *glue.patches(),
        *stepfunctions.patches(),
        *events.patches(),
        *cloudtrail.patches(),
        *s3_versions.patches(),
        *timestamps.patches(),
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


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering the service each host name is for. moto's own lookup lists the folders of
    its package and tries every service's URL pattern on each request (~1.5 ms), under the one lock every
    request takes: 365 uploads at once waited about a second in line for it."""

    MAX_HOSTS = 4096  # host names come from clients: a bound, not a leak

    def __init__(self):
        super().__init__(create_backend_app)
        self._backends: dict[str | None, object] = {}

    def get_backend_for_host(self, host: str | None):
        try:
            return self._backends[host]
        except KeyError:
            backend = super().get_backend_for_host(host)
            if len(self._backends) >= self.MAX_HOSTS:
                self._backends.clear()
            self._backends[host] = backend
            return backend


class _ServingStack:
    """moto's WSGI app, each request handled as a call for this stack (`context.current()`)."""

    def __init__(self, ctx: StackContext):
        self.ctx = ctx
        self.app = _Dispatcher()

    def __call__(self, environ, start_response):
        with context.serving(self.ctx):
            return self.app(environ, start_response)


# Object bodies larger than this are kept in a temporary file, not in memory (moto spools each version's
# body in a SpooledTemporaryFile of this size; its default, 5 MB, keeps nearly every object in memory).
S3_BODY_MEMORY_BYTES = 64 * 1024
DEFAULT_SNAPSHOT_SECONDS = 5.0


class LocalStack:
    """The emulator in this process: moto's WSGI app on 127.0.0.1 plus the extensions.

    With `snapshot_seconds`, the stack keeps its state in its folder (`persistence.py`): it restores the
    last snapshot at start, saves one every `snapshot_seconds` when something changed, and a last one at stop."""

    def __init__(self, state_dir: Path, port: int, region: str = "us-east-1", snapshot_seconds: float | None = None):
        self.ctx = StackContext(state_dir=Path(state_dir), host=HOST, port=port, region=region)
        self.snapshot_seconds = snapshot_seconds
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.gate: persistence.RequestGate | None = None
        self.snapshots: persistence.Snapshots | None = None
        self._saver: persistence.Saver | None = None

    @property
    def endpoint(self) -> str:
        return self.ctx.endpoint

    def start(self) -> LocalStack:
        check_moto_version()
        check_port_free(self.ctx.port)
        self.ctx.state_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(S3_BODY_MEMORY_BYTES))
        self._install(restore=bool(self.snapshot_seconds))
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request drowns what matters
        # The snapshots' request gate in front of moto's app, each request served for this stack.
        self.gate = persistence.RequestGate(_ServingStack(self.ctx))
        try:
            self._server = make_server(
                HOST, self.ctx.port, self.gate, threaded=True, request_handler=MotoRequestHandler
            )
        except OSError:
            uninstall_extensions(self.ctx)
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"stack-{self.ctx.port}", daemon=True)
        self._thread.start()
        if self.snapshot_seconds:
            self._saver = persistence.Saver(self.snapshots, self.gate, self.snapshot_seconds)
            self._saver.start()
        log.info("local stack listening on %s (state in %s)", self.endpoint, self.ctx.state_dir)
        return self

    def _install(self, restore: bool) -> None:
        """The extensions for this stack; `restore`: with the state saved in its folder loaded first."""
        install_extensions(self.ctx)
        if restore:
            if killed := persistence.kill_orphaned_job_processes(self.ctx.state_dir):
                log.warning("killed %d Glue job process(es) left by the previous stack: %s", len(killed), killed)
            self.snapshots = persistence.Snapshots(self.ctx)
            self.snapshots.restore()

    def stop(self) -> None:
        if self._server is None:
            return
        if self._saver:
            self._saver.stop()
            self._saver = None
            # The last snapshot; the gate stays shut, so nothing changes between it and the exit.
            try:
                self.snapshots.take(self.gate, wait_seconds=25, last=True)
                log.info("state saved in %s", self.snapshots.root)
            except Exception:  # stop anyway: the last periodic snapshot is what the next start restores
                log.exception("could not save the state at stop")
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None
        uninstall_extensions(self.ctx)

    def restart_from(self, snapshot: Path) -> None:
        """Replace this stack's state with the state another stack saved (the `snapshot` folder of its home, as
        `flightpipe local stop` left it): for an in-process stack, what a `flightpipe local start` in a copy of
        that home does. One state built once serves many stacks. The stack keeps its port bound meanwhile (no
        other process can take it) and holds the calls that arrive until the state is in place."""
        if self._server is None or self._saver is not None:
            raise RuntimeError("restart_from replaces the state of a running stack that saves none of its own")
        with self.gate.closed(timeout=25):
            uninstall_extensions(self.ctx)  # its work stopped, its DuckDB files closed
            target = self.ctx.state_dir / persistence.SNAPSHOT_DIR
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(snapshot, target)
            self._install(restore=True)


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
