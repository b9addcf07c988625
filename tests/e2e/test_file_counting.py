"""The job counts the file, not the reader: a stray quote, a day of bad rows and a line longer than the job's
read block, each through the whole local chain (upload → … → SNS) and judged on the execution, its message, the
ledger, the rejects CSV and the fact table. Expected rows and line counts come from pandas and from counting
the file's line breaks, never from a run.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from e2e_support import compare, expected_facts, to_csv

pytestmark = pytest.mark.e2e

CSV_BLOCK_BYTES = 8 * 1024 * 1024  # the job's read block (flightpipe_job.reading)


def data_lines(body: bytes) -> int:
    """The file's physical lines minus the header, counted by hand: each \\n ends a line."""
    return body.count(b"\n") + (0 if body.endswith(b"\n") else 1) - 1


def with_line(body: bytes, number: int, line: bytes) -> bytes:
    lines = body.split(b"\n")
    lines[number - 1] = line
    return b"\n".join(lines)


def rejects_of(chain, location: str) -> dict[int, str]:
    rejects = pd.read_csv(io.BytesIO(chain.read(location)), dtype=str, keep_default_na=False)
    return dict(zip(rejects.source_line.astype(int), rejects.reason, strict=True))


def assert_refused_and_previous_kept(chain, day, upload, outcome, previous, words: list[str]):
    """FAILED with a notification naming the object and saying why; the ledger row FAILED, not retryable;
    the previous version's facts still loaded."""
    uri = f"s3://{chain.bucket}/{upload.key}?versionId={upload.version}"
    assert outcome.status == "FAILED"
    assert uri in outcome.message and all(w in outcome.message for w in words), outcome.message
    ledger = chain.ledger(upload.key, upload.version)
    assert list(ledger.status) == ["FAILED"] and not ledger.retryable[0]
    assert all(w in ledger.error[0] for w in words)
    state = compare(chain.facts(day), previous)
    assert state.exact, f"the refused file changed the day: {state}"
    return state


def test_a_stray_quote_on_line_102_is_refused_by_default_or_rejected_alone(chain, day_rows, reliability,
                                                                          count_executions):
    day = "2013-04-28"
    rows = day_rows(day)
    good = to_csv(rows)
    assert data_lines(good) == 913  # a 914-line file
    v1 = chain.upload(chain.key(day), good)
    assert chain.follow(v1).status == "SUCCEEDED"
    previous = expected_facts(good)
    states = [compare(chain.facts(day), previous)]
    assert states[-1].exact

    line_102 = good.split(b"\n")[101]
    stray = with_line(good, 102, b'"' + line_102)  # a quote that is never closed
    assert data_lines(stray) == 913 and stray.count(b'"') == 1

    # refuse (the default): the day FAILS naming the file and the line; the previous version stays loaded.
    v2 = chain.upload(chain.key(day), stray)
    refused = chain.follow(v2)
    states.append(assert_refused_and_previous_kept(chain, day, v2, refused, previous,
                                                   ["line 102 has an unterminated quote"]))

    # reject: line 102 alone goes to the rejects CSV; the 912 other lines load (pandas, without that row).
    with chain.job_arguments(**{"--multiline_quotes": "reject"}):
        v3 = chain.upload(chain.key(day), stray)
        loaded = chain.follow(v3)
    assert loaded.status == "SUCCEEDED", loaded.cause
    want = expected_facts(to_csv(rows.drop(index=100)))
    states.append(compare(chain.facts(day), want))
    assert states[-1].exact, states[-1]
    row = chain.ledger(v3.key, v3.version).iloc[0]
    assert (row.status, row.rows_read, row.rows_rejected, row.rows_loaded) == ("LOADED", 913, 1, len(want))
    assert row.rows_read == row.rows_loaded + row.rows_rejected + row.rows_filtered
    reasons = rejects_of(chain, row.rejects_location)
    assert list(reasons) == [102] and "unterminated quote" in reasons[102]
    assert chain.check_violations() == {}
    reliability.record("bad input: a stray quote on line 102 of 914, refused, then rejected alone",
                       executions=count_executions(), comparisons=states,
                       outcome="FAILED with the previous day intact; then SUCCEEDED, 1 row rejected",
                       rows_rejected=1, rows_read=913)


def test_a_file_of_bad_rows_is_refused_and_the_good_day_kept(chain, day_rows, reliability, count_executions):
    day = "2013-10-01"
    rows = day_rows(day)
    v1 = chain.upload(chain.key(day), to_csv(rows))
    assert chain.follow(v1).status == "SUCCEEDED"
    previous = expected_facts(v1.body)
    states = [compare(chain.facts(day), previous)]
    assert states[-1].exact and states[-1].expected > 0

    bad = to_csv(rows.astype(object).assign(DepDelay="soon"))  # every row fails the delay check
    n = data_lines(bad)
    v2 = chain.upload(chain.key(day), bad)
    refused = chain.follow(v2)
    states.append(assert_refused_and_previous_kept(
        chain, day, v2, refused, previous,
        [f"{n} of {n} data lines rejected (100.0%)", "--max_reject_share 0.05", "the day is not loaded"]))
    # The data checks show the day waits for a fix; the fixed file loads.
    assert chain.check_violations() == {"ledger_loaded_not_latest": 1}
    v3 = chain.upload(chain.key(day), to_csv(rows))
    assert chain.follow(v3).status == "SUCCEEDED"
    states.append(compare(chain.facts(day), previous))
    assert states[-1].exact, states[-1]
    assert chain.check_violations() == {}
    reliability.record("bad input: every row bad, after a good version, then fixed", executions=count_executions(),
                       comparisons=states, outcome="FAILED (rejected share over 5 %) with the previous day intact; "
                       "the fixed file LOADED", rows_rejected=n)


def test_a_line_longer_than_the_read_block_is_rejected_and_the_day_loads(chain, day_rows, reliability,
                                                                        count_executions):
    day = "2013-10-02"
    rows = day_rows(day)
    good = to_csv(rows)
    long_line = b"UA," + b"9" * (9 * 1024 * 1024) + b",1,2,3"  # one 9 MB line
    body = with_line(good, 50, long_line)
    assert len(long_line) > CSV_BLOCK_BYTES and data_lines(body) == len(rows)
    upload = chain.upload(chain.key(day), body)
    outcome = chain.follow(upload)
    assert outcome.status == "SUCCEEDED", outcome.cause
    assert "straddl" not in outcome.message  # no internal reader message
    want = expected_facts(to_csv(rows.drop(index=48)))
    state = compare(chain.facts(day), want)
    assert state.exact, state
    row = chain.ledger(upload.key, upload.version).iloc[0]
    assert (row.status, row.rows_read, row.rows_rejected, row.rows_loaded) == ("LOADED", len(rows), 1, len(want))
    assert rejects_of(chain, row.rejects_location) == {50: f"line 50 is longer than {CSV_BLOCK_BYTES} bytes"}
    assert chain.check_violations() == {}
    reliability.record("bad input: one 9 MB line", executions=count_executions(), comparisons=state,
                       outcome="SUCCEEDED, the long line rejected", rows_rejected=1, rows_read=len(rows))
