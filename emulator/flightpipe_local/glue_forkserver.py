"""A warm Glue runtime for one stack: a Python 3.9 that has imported the analytics libraries once and forks one
process per job run (`python glue_forkserver.py`, started by `glue_jobs.ForkServer`; Python 3.9-compatible).

A job run's process on AWS starts a fresh interpreter that imports pandas, pyarrow and boto3; here that start
cost 0.3–0.6 s per run, every run, on top of the script's own work. The server pays it once: each run is a
`fork()` of it, in a session of its own (killable with its children by `killpg`), in the run's folder, with the
run's environment, `sys.argv`, `sys.path` (script folder, then PYTHONPATH, as `python script.py` has it),
unbuffered stdout/stderr in the run's log files, stdin from /dev/null, the script run as `__main__`, and the exit
status a fresh `python -u script.py` would give (an uncaught exception: its traceback on stderr, status 1).
What stays shared with the server: modules already imported and the hash seed (PYTHONHASHSEED); the random
generators of `random` and numpy are reseeded in every run.

Protocol, one JSON object a line: requests on stdin `{"id", "argv", "cwd", "env", "stdout", "stderr"}`;
answers on stdout `{"id", "pid"}` once forked (or `{"id", "error"}`), then `{"id", "exit"}` when the process
ends (the exit code, or -N for signal N, as `subprocess` reports it). When stdin closes (the stack ended, even
killed) the server kills the processes it started and exits.
"""

import json
import os
import selectors
import signal
import sys
import traceback

PRELOADED = ("numpy", "pandas", "pyarrow", "pyarrow.csv", "pyarrow.parquet", "pyarrow.compute", "boto3",
             "botocore.session")


def preload():
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            pass


def _reopen_std_streams(stdout_path, stderr_path):
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for fd, path in ((1, stdout_path), (2, stderr_path)):
        target = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(target, fd)
        os.close(target)
    # `python -u`: binary stdout/stderr unbuffered, text layer written through
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stdout.reconfigure(write_through=True)
    sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)
    sys.stderr.reconfigure(write_through=True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _exit_code(exc):
    """What the interpreter exits with for SystemExit(exc.code), printing a non-integer code as it does."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run_child(request, base_path):
    """In the forked process: become the job's process and never return."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(request["cwd"])
        _reopen_std_streams(request["stdout"], request["stderr"])
        os.environ.clear()
        os.environ.update(request["env"])
        script = os.path.abspath(request["argv"][0])
        extra = [p for p in request["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [os.path.dirname(script), *extra, *base_path]
        sys.argv = list(request["argv"])
        import random

        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        import types

        main = types.ModuleType("__main__")
        main.__file__ = script
        main.__builtins__ = __builtins__
        sys.modules["__main__"] = main
        with open(script, "rb") as source:
            program = compile(source.read(), script, "exec")
        try:
            exec(program, main.__dict__)
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except BaseException:
            kind, value, tb = sys.exc_info()
            value.__traceback__ = tb.tb_next  # the traceback starts at the script, as python's does
            sys.excepthook(kind, value, tb.tb_next)
            code = 1
        import threading

        threading._shutdown()  # wait for non-daemon threads, then atexit, as an interpreter's exit does
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(base_path):
    out = sys.stdout.buffer
    children = {}  # pid -> request id
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    stdin = sys.stdin.buffer.raw
    selector.register(stdin, selectors.EVENT_READ, "request")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    pending = b""

    def answer(message):
        out.write(json.dumps(message).encode() + b"\n")
        out.flush()

    def reap():
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            answer({"id": children.pop(pid), "exit": os.waitstatus_to_exitcode(status)})

    while True:
        for key, _ in selector.select():
            if key.data == "child":
                os.read(wake_r, 4096)
                reap()
                continue
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:  # the stack is gone: so are the runs it started
                for pid in children:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                request = json.loads(line)
                try:
                    pid = os.fork()
                except OSError as exc:
                    answer({"id": request["id"], "error": str(exc)})
                    continue
                if pid == 0:
                    selector.close()
                    for fd in (wake_r, wake_w):
                        os.close(fd)
                    signal.set_wakeup_fd(-1)
                    run_child(request, base_path)
                children[pid] = request["id"]
                answer({"id": request["id"], "pid": pid})
        reap()


def main():
    # The path every job process has after its script folder and PYTHONPATH: this interpreter's, without this
    # file's folder (sys.path[0]) and without the PYTHONPATH it was started with.
    started_with = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    base_path = [p for p in sys.path[1:] if p not in started_with]
    preload()
    answer_ready = {"ready": True, "pid": os.getpid()}
    sys.stdout.buffer.write(json.dumps(answer_ready).encode() + b"\n")
    sys.stdout.buffer.flush()
    serve(base_path)


if __name__ == "__main__":
    main()
