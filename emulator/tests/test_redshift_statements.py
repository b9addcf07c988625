"""The statement model on its own: a cancelled statement stays ABORTED even when its query ends normally
afterwards (Data API Reference, DescribeStatement: ABORTED - "The query run was stopped by the user")."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from flightpipe_local.context import StackContext
from flightpipe_local.redshift.database import Result
from flightpipe_local.redshift.statements import DatabaseWorker, Statement, StatementService, plain_error


class QueryThatIgnoresInterrupts:
    """A database whose query runs to its end whatever happens: the race where an interrupt comes too late."""

    def __init__(self, path: Path):
        self.path = path
        self.started, self.release = threading.Event(), threading.Event()
        self.interrupts = 0

    def execute(self, sql, params=None) -> Result:
        self.started.set()
        self.release.wait(10)
        return Result(sql=sql, columns=["a"], type_names=["int4"], rows=[(1,)], rows_affected=1,
                      has_result_set=True)

    def interrupt(self) -> None:
        self.interrupts += 1

    def close(self) -> None:
        pass


def test_a_query_that_finishes_after_its_cancel_stays_aborted(tmp_path):
    service = StatementService(StackContext(state_dir=tmp_path, host="127.0.0.1", port=0))
    database = QueryThatIgnoresInterrupts(tmp_path / "dev.duckdb")
    service._workers["c1", "dev"] = DatabaseWorker(database, service._state)
    statement = service.submit(Statement(account="1", region="r", database="dev", sqls=["SELECT 1"],
                                         is_batch=False, parameters=[], cluster_identifier="c1"))
    assert database.started.wait(5)
    service.cancel(statement, statement.id)
    assert statement.status == "ABORTED"
    deadline = time.monotonic() + 5
    while database.interrupts == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert database.interrupts >= 1  # the query was told to stop
    database.release.set()  # ... but it ends normally all the same
    follow_up = service.submit(Statement(account="1", region="r", database="dev", sqls=["SELECT 2"],
                                         is_batch=False, parameters=[], cluster_identifier="c1"))
    while follow_up.status != "FINISHED" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert follow_up.status == "FINISHED"
    assert statement.status == "ABORTED" and statement.result is None
    assert "cancelled" in statement.error
    service.close()


def test_plain_error_is_one_line_without_terminal_codes():
    coloured = "Parse error: \x1b[4mWHERE\x1b[0m unexpected\n  LINE 1: SELECT FROM WHERE\n          ^"
    assert plain_error(coloured) == "Parse error: WHERE unexpected LINE 1: SELECT FROM WHERE ^"
