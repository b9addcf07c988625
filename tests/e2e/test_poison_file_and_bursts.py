"""A file that cannot be catalogued or read harms only its own day; a burst of uploads settles, and the
ledger tells the whole story: one row per S3 version, the latest version of each day loaded.

Each test uses its own flight dates, so tests never see each other's rows.
"""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
from e2e_support import compare, expected_facts, to_csv

pytestmark = pytest.mark.e2e

# Measured on the 2-CPU machine of docs/reliability.md: a burst of 12 uploads settles in well under this.
BURST_SETTLE_SECONDS = 240


def crawler_last_crawl(chain) -> dict:
    return chain.client("glue").get_crawler(Name=chain.names.crawler)["Crawler"].get("LastCrawl", {})


def crawler_log(chain) -> str:
    events = chain.client("logs").get_log_events(logGroupName="/aws-glue/crawlers",
                                                 logStreamName=chain.names.crawler)["events"]
    return "\n".join(e["message"] for e in events)


# ---- no poison file --------------------------------------------------------------------------------------


def test_a_file_that_cannot_be_read_fails_only_its_own_day(chain, day_rows, reliability, count_executions):
    bad_day, good_days = "2013-09-01", ["2013-09-02", "2013-09-03"]
    # CR-only line endings (classic Mac OS): one "line" to every reader that ends rows at a line feed.
    cr_only = to_csv(day_rows(bad_day)).replace(b"\n", b"\r")
    assert b"\n" not in cr_only
    bad = chain.upload(chain.key(bad_day), cr_only)
    failed = chain.follow(bad)

    # The crawler skipped the file (classification UNKNOWN, a log line naming it); the crawl SUCCEEDED.
    assert crawler_last_crawl(chain).get("Status") == "SUCCEEDED", crawler_last_crawl(chain)
    assert re.search(rf"WARN : Skipping s3://{chain.bucket}/{re.escape(bad.key)}: .*UNKNOWN", crawler_log(chain))
    # The job worked from the event's object anyway, and refused it whole, naming the key and its version.
    assert failed.status == "FAILED"
    assert f"{bad.key}?versionId={bad.version}" in failed.message, failed.message
    assert "carriage return only" in failed.message and "LF or CRLF" in failed.message, failed.message
    ledger = chain.ledger(bad.key)
    assert list(ledger.status) == ["FAILED"] and not ledger.retryable.iloc[0], ledger  # fixed only by a new upload
    states = [compare(chain.facts(bad_day), expected_facts(to_csv(day_rows(bad_day).iloc[:0])))]
    assert states[-1].exact
    chain.assert_raw_intact(bad)

    # Later days load whatever that file is: the crawl and the job both go on.
    for day in good_days:
        body = to_csv(day_rows(day))
        outcome = chain.follow(chain.upload(chain.key(day), body))
        assert outcome.status == "SUCCEEDED", outcome.cause
        states.append(compare(chain.facts(day), expected_facts(body)))
        assert states[-1].exact, (day, states[-1])
        assert list(chain.ledger(chain.key(day)).status) == ["LOADED"]
        assert crawler_last_crawl(chain).get("Status") == "SUCCEEDED"
    partitions = chain.client("glue").get_partitions(DatabaseName=chain.names.glue_database,
                                                     TableName=chain.names.catalog_table)["Partitions"]
    catalogued = {p["Values"][0] for p in partitions}
    assert set(good_days) <= catalogued and bad_day not in catalogued
    assert chain.check_violations() == {}

    # The same day saved with LF endings replaces the refused upload and loads.
    fixed = to_csv(day_rows(bad_day))
    again = chain.follow(chain.upload(bad.key, fixed))
    assert again.status == "SUCCEEDED", again.cause
    states.append(compare(chain.facts(bad_day), expected_facts(fixed)))
    assert states[-1].exact, states[-1]
    assert list(chain.ledger(bad.key).status) == ["FAILED", "LOADED"]
    assert chain.check_violations() == {}
    reliability.record("poison file: CR-only line endings, then two good days and the fixed file",
                       executions=count_executions(), comparisons=states,
                       outcome="1 FAILED naming key and version (crawl SUCCEEDED, file UNKNOWN); 3 SUCCEEDED")


# ---- bursts ----------------------------------------------------------------------------------------------


SUMMARY = re.compile(r"Daily files processed: (\d+) \((.*?)\)\. Rows read (\d+), loaded (\d+),")


def test_a_burst_of_uploads_settles_and_every_version_has_one_ledger_row(chain, day_rows, reliability,
                                                                         count_executions):
    # 12 uploads: 5 versions of one day, 4 of another, 3 of a third, each version different bytes.
    versions = {"2013-11-04": 5, "2013-11-05": 4, "2013-11-06": 3}
    bodies = {day: [to_csv(day_rows(day).iloc[5 * i:]) for i in range(n)] for day, n in versions.items()}
    order = [(day, i) for i in range(max(versions.values())) for day in versions if i < versions[day]]
    s3 = chain.client("s3")  # made before the timed window: twelve new clients would take seconds of it
    began = time.monotonic()
    uploads = [(day, chain.upload(chain.key(day), bodies[day][i], s3=s3)) for day, i in order]
    uploaded_in = time.monotonic() - began
    assert uploaded_in < 5, f"the uploads took {uploaded_in:.1f} s: not a burst"

    arns = [chain.wait_for_execution(upload, timeout=60) for _, upload in uploads]
    outcomes = [chain.finish(arn, timeout=BURST_SETTLE_SECONDS) for arn in arns]
    settled_in = time.monotonic() - began
    assert [o.status for o in outcomes] == ["SUCCEEDED"] * len(uploads), [o.cause for o in outcomes]
    assert settled_in < BURST_SETTLE_SECONDS

    states, statuses = [], []
    for day in versions:
        key = chain.key(day)
        s3_versions = {v for (k, v) in chain.raw_versions() if k == key}
        assert len(s3_versions) == versions[day]
        ledger = chain.ledger(key)
        # Every S3 version has exactly one ledger row; the latest is LOADED, the others settled without loading.
        assert sorted(ledger.source_version) == sorted(s3_versions), ledger
        latest = [u for d, u in uploads if d == day][-1]
        assert ledger.set_index("source_version").status[latest.version] == "LOADED", ledger
        others = ledger[ledger.source_version != latest.version]
        assert set(others.status) <= {"SUPERSEDED", "SKIPPED"}, others
        assert others.error.notna().all() or (others.status == "SUPERSEDED").all(), others
        statuses += list(ledger.status)
        # The facts equal one clean load of the day's latest version.
        states.append(compare(chain.facts(day), expected_facts(bodies[day][-1])))
        assert states[-1].exact, (day, states[-1])
    assert chain.check_violations() == {}

    # No execution reports another run's figures as its own: its message sums exactly its own ledger rows.
    all_rows = pd.concat([chain.ledger(chain.key(day)) for day in versions])
    for outcome in outcomes:
        count, days, rows_read, rows_loaded = SUMMARY.search(outcome.message).groups()
        own = all_rows[all_rows.job_run_id == outcome.name]
        assert int(count) == len(own), (outcome.message, own)
        assert int(rows_read) == int(own.rows_read.fillna(0).sum()), (outcome.message, own)
        assert int(rows_loaded) == int(own.rows_loaded.fillna(0).sum()), (outcome.message, own)
        listed = sorted(re.findall(r"\d{4}-\d{2}-\d{2}", days))
        assert listed == sorted(str(d)[:10] for d in own.flight_date), (outcome.message, own)
    errors = [e for o in outcomes for e in o.task_errors()]
    print(f"burst: {len(uploads)} uploads in {uploaded_in:.1f} s settled in {settled_in:.0f} s; "
          f"Glue limit met {errors.count('Glue.ConcurrentRunsExceededException')} times; statuses "
          f"{pd.Series(statuses).value_counts().to_dict()}")
    reliability.record(f"burst: {len(uploads)} uploads of {len(versions)} days within {uploaded_in:.1f} s",
                       executions=count_executions(), comparisons=states,
                       outcome=f"{len(uploads)} SUCCEEDED, settled in {settled_in:.0f} s; one ledger row per version",
                       settle_seconds=round(settled_in, 1),
                       glue_limit_retried=errors.count("Glue.ConcurrentRunsExceededException"),
                       ledger_statuses=pd.Series(statuses).value_counts().to_dict())
