"""The kernels `flightpipe run` executes notebooks in: one fresh kernel per notebook, over IPC sockets, its own
log lines in the run's `kernels.log`, started one notebook ahead and shut down one notebook behind."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import IO

# The kernel talks to papermill over local IPC sockets, not TCP: nothing listens on a port, and ipykernel has no
# reason to warn that TCP traffic is unencrypted (jupyter_client's `KernelManager.transport`).
KERNEL_CONFIG = {"KernelManager": {"transport": "ipc"}}
# What nbclient passes to a kernel it starts itself (`NotebookClient.ipython_hist_file`): no history database.
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]
_kernel_numbers = itertools.count(1)


def kernel_config():
    """The kernel manager's settings for notebooks run here: IPC sockets in Jupyter's runtime folder."""
    from traitlets.config import Config

    return Config({"KernelManager": {**KERNEL_CONFIG["KernelManager"], "ip": _ipc_prefix()}})


def _ipc_prefix() -> str:
    """Where the kernel's IPC sockets go: Jupyter's runtime folder, beside its connection file (jupyter_client's
    default, `kernel-ipc` in the working directory, would leave sockets in notebooks/). One prefix per kernel:
    two kernels are alive at once (the running one and the next), and jupyter_client numbers a kernel's
    sockets after the files that exist, which the other kernel may not have made yet."""
    from jupyter_core.paths import jupyter_runtime_dir

    folder = Path(jupyter_runtime_dir())
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"flightpipe-{os.getpid()}-{next(_kernel_numbers)}-ipc")


def kernel_manager_class(log: IO[bytes]):
    """The kernel manager of one notebook's kernel.

    - The kernel process's own stdout and stderr (ipykernel's log lines, not cell output: that reaches the
      executed notebook) go to the run's `kernels.log`, so a kernel shutting down after Ctrl-C or a failure writes
      nothing over the command's own lines.
    - jupyter_client sends SIGINT before every shutdown request, to stop a busy kernel. papermill shuts a kernel
      down once its cells are done (nbclient interrupts a cell that times out by itself), so that signal only
      risks landing inside a message handler, where ipykernel logs "KeyboardInterrupt caught in kernel".
    """
    from jupyter_client.manager import AsyncKernelManager

    class RunbookKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            return await super().start_kernel(**{"stdout": log, "stderr": log, **kw})

        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

        def client(self, **kw):
            made = super().client(**kw)
            self.__dict__.setdefault("runbook_clients", []).append(made)  # closed by Kernel.stop
            return made

    return RunbookKernelManager


class Kernel:
    """One notebook's own kernel, started before its notebook runs: a kernel process takes about a second to
    boot, so the next notebook's kernel boots while the current notebook runs. It is a fresh process that has
    run nothing before its notebook (no state passes between notebooks). After its notebook it is shut down as
    nbclient shuts down the kernels it starts itself (gracefully: a shutdown request, then a wait for the
    process to exit), in two halves: `request_stop` sends the request, `stop` waits and removes its files. The
    exit (about a second for a kernel that ran boto3 and pandas) goes on while the next notebook runs."""

    def __init__(self, log_path: Path, cwd: Path):
        from jupyter_core.utils import run_sync

        self.requested = False
        self.log = log_path.open("ab")
        self.manager = kernel_manager_class(self.log)(kernel_name="python3", config=kernel_config())
        try:  # what nbclient's `start_new_kernel` would pass: the notebook's folder and its arguments
            run_sync(self.manager.start_kernel)(cwd=str(cwd), extra_arguments=list(KERNEL_ARGUMENTS))
        except BaseException:
            self.log.close()
            raise

    def request_stop(self) -> None:
        from jupyter_core.utils import run_sync

        run_sync(self._request_stop)()

    def stop(self) -> None:
        """Shut the kernel down (or wait for the shutdown requested), remove its files, close channels and log."""
        from jupyter_core.utils import run_sync

        try:
            run_sync(self._stop)()
        finally:
            self.log.close()

    async def _request_stop(self) -> None:
        from jupyter_core.utils import ensure_async

        manager = self.manager
        if self.requested or not await ensure_async(manager.is_alive()):
            return
        manager.shutting_down = True  # as `shutdown_kernel` does: no restart, no SIGINT (kernel_manager_class)
        manager.stop_restarter()
        await ensure_async(manager.request_shutdown())
        self.requested = True

    async def _stop(self) -> None:
        from jupyter_core.utils import ensure_async

        manager = self.manager
        try:
            if await ensure_async(manager.is_alive()):  # (a kernel that has exited was reaped by is_alive)
                if self.requested:
                    await ensure_async(manager.finish_shutdown())  # kills it if it does not exit in time
                else:
                    await ensure_async(manager.shutdown_kernel(now=False))
        finally:
            await ensure_async(manager.cleanup_resources())
            for client in manager.__dict__.get("runbook_clients", []):
                await ensure_async(client.stop_channels())


def abandon_cells() -> None:
    """After Ctrl-C, cancel what nbclient left waiting on the interrupted cell's reply: stopping the kernels runs
    the same event loop again, where that wait would see the kernel die and print errors after "interrupted"
    (nbclient turns the cancellation into DeadKernelError: it is read here, so asyncio does not print it)."""
    import asyncio

    from jupyter_core.utils import ensure_event_loop

    for task in asyncio.all_tasks(ensure_event_loop()):
        task.cancel()
        task.add_done_callback(lambda done: done.cancelled() or done.exception())
