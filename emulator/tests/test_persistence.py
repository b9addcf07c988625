"""The pieces of the stack's persistence that need no running stack: the request gate, the object store,
and the pickling of moto's objects with live members."""

import io
import os
import threading
import time

from moto.core import DEFAULT_ACCOUNT_ID

from flightpipe_local.persistence import ObjectStore, RequestGate, _Pickler, _Unpickler


def call(gate: RequestGate, target: str = "") -> tuple[str, bytes]:
    """One WSGI call through the gate; its status line and body."""
    seen = {}
    environ = {"HTTP_X_AMZ_TARGET": target} if target else {}
    body = b"".join(gate(environ, lambda status, headers: seen.setdefault("status", status)))
    return seen["status"], body


def slow_app(release: threading.Event):
    def app(environ, start_response):
        release.wait(5)
        start_response("200 OK", [])
        return [b"done"]
    return app


def test_a_closed_gate_waits_for_the_call_in_progress_and_holds_new_ones():
    release = threading.Event()
    gate = RequestGate(slow_app(release))
    running = threading.Thread(target=call, args=(gate,))
    running.start()
    while gate._active == 0:
        time.sleep(0.01)
    with gate.closed(timeout=0.2) as idle:
        assert not idle  # a call was still in progress
    release.set()
    running.join()

    order = []
    with gate.closed(timeout=1) as idle:
        assert idle
        late = threading.Thread(target=lambda: order.append(call(gate)))
        late.start()
        time.sleep(0.2)
        assert order == []  # held while the snapshot is written
        order.append("snapshot")
    late.join()
    assert order == ["snapshot", ("200 OK", b"done")]


def test_long_polls_pass_a_closed_gate_and_a_sealed_gate_answers_503():
    release = threading.Event()
    release.set()
    gate = RequestGate(slow_app(release))
    with gate.closed(timeout=1, seal=True) as idle:
        assert idle
        for target in ("AmazonSQS.ReceiveMessage", "RedshiftData.DescribeStatement",
                       "RedshiftData.GetStatementResult", "RedshiftData.GetStatementResultV2"):
            assert call(gate, target) == ("200 OK", b"done")
    assert call(gate)[0].startswith("503")
    assert call(gate, "RedshiftData.ExecuteStatement")[0].startswith("503")  # it changes state: held, then refused
    assert gate.calls == 0  # neither counts as a change of state


def test_object_bodies_are_stored_once_by_content(tmp_path):
    from moto.s3.models import FakeKey

    store = ObjectStore(tmp_path / "objects")
    keys = [FakeKey(name=f"k{n}", value=b"same body", account_id=DEFAULT_ACCOUNT_ID, region_name="us-east-1")
            for n in range(2)]
    names = {store.save(key) for key in keys}
    assert len(names) == 1 and (tmp_path / "objects" / names.pop()).read_bytes() == b"same body"


def test_locks_and_threads_pickle_as_fresh_ones_and_object_bodies_round_trip(tmp_path):
    from moto.s3.models import FakeKey

    import flightpipe_local.persistence as persistence

    key = FakeKey(name="day.csv", value=b"a,b\n1,2\n" * 10_000, account_id=DEFAULT_ACCOUNT_ID, region_name="us-east-1")
    state = {"lock": threading.Lock(), "thread": threading.Thread(target=print), "key": key, "again": key}
    store = ObjectStore(tmp_path / "objects")
    buffer = io.BytesIO()
    _Pickler(buffer, store, {}).dump(state)
    buffer.seek(0)
    persistence._restoring = store
    try:
        restored = _Unpickler(buffer, store).load()
    finally:
        persistence._restoring = None
    assert restored["lock"].acquire(blocking=False)
    assert restored["thread"] is None
    assert restored["key"] is restored["again"]  # one object, as before
    assert restored["key"].value == key.value and restored["key"].etag == key.etag


def test_only_job_scripts_of_the_state_folder_are_killed_as_orphans(tmp_path):
    import subprocess
    import sys

    from flightpipe_local.glue_jobs import JOB_RUN_MARKER
    from flightpipe_local.persistence import kill_orphaned_job_processes

    run_dir = tmp_path / "glue" / "jobs" / "daily" / "jr_0123"
    run_dir.mkdir(parents=True)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    job = subprocess.Popen(sleeper, cwd=run_dir, env={**os.environ, JOB_RUN_MARKER: "jr_0123"}, start_new_session=True)
    bystander = subprocess.Popen(sleeper, cwd=run_dir, start_new_session=True)  # e.g. a shell reading the logs
    # Popen returns once the child has exec'd: both environments are readable now.
    try:
        assert kill_orphaned_job_processes(tmp_path) == [job.pid]
        assert job.wait(5) == -9 and bystander.poll() is None
    finally:
        for proc in (job, bystander):
            proc.kill()
            proc.wait()
