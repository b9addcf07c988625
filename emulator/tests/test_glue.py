"""The local Glue: crawlers catalog real CSV folders, jobs run real scripts."""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import awswrangler as wr
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from flightpipe_local import glue, glue_classifier, glue_crawler, glue_jobs, glue_runtime

DATA = Path(__file__).resolve().parents[2] / "data"  # the repository's airports and sample days

SAMPLE = DATA / "samples" / "gds_sample_flights.csv"
HIVE_TYPES = {"int64": "bigint", "float64": "double"}  # pandas dtype → Glue type; anything else string


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def expected_columns(csv_text: str) -> list[tuple[str, str]]:
    """What the classifier should infer, computed independently by pandas."""
    import io

    frame = pd.read_csv(io.StringIO(csv_text))
    return [(c.lower(), HIVE_TYPES.get(str(t), "string")) for c, t in frame.dtypes.items()]


def wait_until(predicate, timeout=10.0, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")


def run_crawler(client, name, timeout=10.0) -> list[str]:
    """Start a crawler and return the states seen until it is READY again."""
    client.start_crawler(Name=name)
    states = []
    started = time.monotonic()
    deadline = started + timeout
    # The short STOPPING (0.05 s) needs a fine poll, but a crawl stays RUNNING at least crawl_seconds() (this
    # process's stack reads the same environment): polling that stretch every 5 ms only burned CPU.
    coarse_until = started + 0.8 * glue_crawler.crawl_seconds()
    while time.monotonic() < deadline:
        state = client.get_crawler(Name=name)["Crawler"]["State"]
        if not states or states[-1] != state:
            states.append(state)
        if state == "READY":
            return states
        time.sleep(0.1 if time.monotonic() < coarse_until - 0.1 else 0.005)
    raise AssertionError(f"crawler {name} did not finish: {states}")


@pytest.fixture
def lake(aws):
    """A bucket, a catalog database and a crawler over `s3://bucket/flights/`."""
    s3, client = aws("s3"), aws("glue")
    bucket, database, crawler = unique("lake"), unique("db").replace("-", "_"), unique("crawler")
    s3.create_bucket(Bucket=bucket)
    client.create_database(DatabaseInput={"Name": database})

    def make_crawler(name=crawler, exclusions=(), path="flights/", **extra):
        target = {"Path": f"s3://{bucket}/{path}", "Exclusions": list(exclusions)}
        client.create_crawler(
            Name=name,
            Role="arn:aws:iam::123456789012:role/glue",
            DatabaseName=extra.pop("db", database),
            Targets={"S3Targets": [target]},
            **extra,
        )
        return name

    def put(key, body):
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    return type("Lake", (), dict(s3=s3, glue=client, bucket=bucket, db=database, crawler=make_crawler, put=put))


# ---- crawler ------------------------------------------------------------------------------------


def test_crawl_creates_partitioned_table_and_recrawl_adds_partitions(lake, monkeypatch):
    # A few small files crawl in milliseconds: slow the phases down so the poll loop sees each state.
    monkeypatch.setattr(glue_crawler, "STOPPING_SECONDS", 0.2)
    crawl_work = glue_crawler.CrawlRun.run
    monkeypatch.setattr(glue_crawler.CrawlRun, "run", lambda self: (time.sleep(0.2), crawl_work(self)))
    sample = SAMPLE.read_text()
    for day in ("2024-01-01", "2024-01-02"):
        lake.put(f"flights/date={day}/flights.csv", sample)
    name = lake.crawler(TablePrefix="raw_")

    states = run_crawler(lake.glue, name)
    assert states[0] == "RUNNING" and "STOPPING" in states and states[-1] == "READY"
    crawler = lake.glue.get_crawler(Name=name)["Crawler"]
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert crawler["LastCrawl"]["LogGroup"] == "/aws-glue/crawlers" and crawler["LastCrawl"]["LogStream"] == name

    tables = lake.glue.get_tables(DatabaseName=lake.db)["TableList"]
    assert [t["Name"] for t in tables] == ["raw_flights"]
    table = tables[0]
    sd = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == expected_columns(sample)
    assert dict((c["Name"], c["Type"]) for c in sd["Columns"])["carrier"] == "string"
    assert table["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
    assert sd["Location"] == f"s3://{lake.bucket}/flights/"
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert sd["SerdeInfo"]["Parameters"] == {"field.delim": ","}
    assert table["Parameters"]["classification"] == "csv"
    assert table["Parameters"]["skip.header.line.count"] == "1"

    def partitions():
        parts = lake.glue.get_partitions(DatabaseName=lake.db, TableName="raw_flights")["Partitions"]
        return sorted((p["Values"][0], p["StorageDescriptor"]["Location"]) for p in parts)

    assert partitions() == [(d, f"s3://{lake.bucket}/flights/date={d}/") for d in ("2024-01-01", "2024-01-02")]

    lake.put("flights/date=2024-01-03/flights.csv", sample)
    run_crawler(lake.glue, name)
    assert [v for v, _ in partitions()] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    # Same schema: the table was not rewritten.
    assert len(lake.glue.get_table_versions(DatabaseName=lake.db, TableName="raw_flights")["TableVersions"]) == 1
    # awswrangler sees the same catalog.
    assert sorted(wr.catalog.get_partitions(database=lake.db, table="raw_flights")) == [
        f"s3://{lake.bucket}/flights/date={d}/" for d in ("2024-01-01", "2024-01-02", "2024-01-03")
    ]
    assert wr.catalog.get_table_types(database=lake.db, table="raw_flights")["depdelay"] == "bigint"


def test_changed_schema_creates_table_version(lake):
    sample = SAMPLE.read_text()
    lake.put("flights/date=2024-01-01/flights.csv", sample)
    name = lake.crawler()
    run_crawler(lake.glue, name)
    # A new day whose delays have decimals and an extra column.
    header, *rows = sample.splitlines()
    changed = "\n".join([header + ",Distance"] + [r.replace(",-3,1", ",-3.5,1") + ",1200" for r in rows]) + "\n"
    assert changed != sample + "\n"
    lake.put("flights/date=2024-01-02/flights.csv", changed)
    run_crawler(lake.glue, name)

    versions = lake.glue.get_table_versions(DatabaseName=lake.db, TableName="flights")["TableVersions"]
    assert len(versions) == 2
    columns = lake.glue.get_table(DatabaseName=lake.db, Name="flights")["Table"]["StorageDescriptor"]["Columns"]
    types = {c["Name"]: c["Type"] for c in columns}
    assert types["depdelay"] == dict(expected_columns(changed))["depdelay"] == "double"
    assert types["distance"] == "bigint" and types["arrdelay"] == "bigint"
    # The new partition carries its own schema; the old one keeps the schema it was crawled with.
    parts = {
        p["Values"][0]: {c["Name"] for c in p["StorageDescriptor"]["Columns"]}
        for p in lake.glue.get_partitions(DatabaseName=lake.db, TableName="flights")["Partitions"]
    }
    assert "distance" in parts["2024-01-02"] and "distance" not in parts["2024-01-01"]


def test_exclusions_are_honoured(lake):
    sample = SAMPLE.read_text()
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        lake.put(f"flights/date={day}/flights.csv", sample)
    lake.put("flights/date=2024-01-01/notes.tmp", "not,data\nat,all\n")
    name = lake.crawler(exclusions=["date=2024-01-02/**", "**.tmp"])
    run_crawler(lake.glue, name)
    parts = lake.glue.get_partitions(DatabaseName=lake.db, TableName="flights")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2024-01-01", "2024-01-03"]
    table = lake.glue.get_table(DatabaseName=lake.db, Name="flights")["Table"]
    assert table["Parameters"]["objectCount"] == "2"  # the .tmp file was not counted


def test_unpartitioned_folder_and_unreadable_objects(lake, aws):
    sample = SAMPLE.read_text()
    lake.put("airports/a.csv", sample)
    lake.put("airports/empty.csv", b"")
    lake.put("airports/blob.bin", bytes(range(256)))
    name = lake.crawler(path="airports")
    run_crawler(lake.glue, name)
    crawler = lake.glue.get_crawler(Name=name)["Crawler"]
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    table = lake.glue.get_table(DatabaseName=lake.db, Name="airports")["Table"]
    assert table["PartitionKeys"] == []
    assert table["StorageDescriptor"]["Location"] == f"s3://{lake.bucket}/airports/"
    events = aws("logs").get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=name)["events"]
    text = "\n".join(e["message"] for e in events)
    assert "empty.csv" in text and "blob.bin" in text and "UNKNOWN" in text
    metrics = lake.glue.get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"][0]
    assert metrics["TablesCreated"] == 1


def test_a_file_no_classifier_can_read_is_unknown_and_the_crawl_succeeds(lake, aws):
    # CR-only line endings: read line by line the whole file is one line holding carriage returns, which
    # the CSV reader refuses. Glue gives such a file classification UNKNOWN and goes on ("Defining and
    # managing classifiers"): the other days are catalogued and the crawl SUCCEEDED.
    sample = SAMPLE.read_text()
    lake.put("flights/date=2024-01-01/flights.csv", sample)
    lake.put("flights/date=2024-01-02/flights.csv", sample.replace("\n", "\r"))
    lake.put("flights/date=2024-01-03/flights.csv", sample)
    name = lake.crawler()
    run_crawler(lake.glue, name)
    last = lake.glue.get_crawler(Name=name)["Crawler"]["LastCrawl"]
    assert last["Status"] == "SUCCEEDED" and "ErrorMessage" not in last, last
    parts = lake.glue.get_partitions(DatabaseName=lake.db, TableName="flights")["Partitions"]
    assert sorted(p["Values"][0] for p in parts) == ["2024-01-01", "2024-01-03"]
    events = aws("logs").get_log_events(logGroupName="/aws-glue/crawlers", logStreamName=name)["events"]
    skipped = [e["message"] for e in events if "date=2024-01-02/flights.csv" in e["message"]]
    assert len(skipped) == 1 and "UNKNOWN" in skipped[0] and "WARN" in skipped[0], skipped


def test_double_start_and_missing_database(lake, monkeypatch):
    monkeypatch.setattr(glue_crawler, "STOPPING_SECONDS", 0.3)
    lake.put("flights/date=2024-01-01/flights.csv", SAMPLE.read_text())
    name = lake.crawler()
    lake.glue.start_crawler(Name=name)
    with pytest.raises(ClientError) as err:
        lake.glue.start_crawler(Name=name)
    assert err.value.response["Error"]["Code"] == "CrawlerRunningException"
    time.sleep(0.05)
    running = lake.glue.get_crawler(Name=name)["Crawler"]
    assert running["State"] in ("RUNNING", "STOPPING") and running["CrawlElapsedTime"] >= 50
    wait_until(lambda: lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "READY")

    orphan = lake.crawler(name=unique("orphan"), db="no_such_db")
    run_crawler(lake.glue, orphan)
    last = lake.glue.get_crawler(Name=orphan)["Crawler"]["LastCrawl"]
    assert last["Status"] == "FAILED" and "no_such_db" in last["ErrorMessage"]


# ---- job ----------------------------------------------------------------------------------------

ECHO_SCRIPT = """
import json, os, sys
import boto3
args = sys.argv[1:]
options = dict(zip(args[::2], args[1::2]))
print("ARGS " + json.dumps(options))
print("LEAKED " + str(os.environ.get("AWS_SESSION_TOKEN")))
boto3.client("s3").put_object(Bucket=options["--bucket"], Key="out/result.json", Body=json.dumps(options))
"""

FAILING_SCRIPT = """
def load():
    raise ValueError("boom")
load()
"""

SLEEPING_SCRIPT = "import time\nprint('sleeping', flush=True)\ntime.sleep(30)\n"


@pytest.fixture(scope="module")
def runtime():
    """Glue's Python runtime, built before the first run (a first build takes minutes; later ones are cached)."""
    return glue_runtime.resolve()


@pytest.fixture
def make_job(aws, runtime):
    s3, client = aws("s3"), aws("glue")
    bucket = unique("scripts")
    s3.create_bucket(Bucket=bucket)

    def make(script: str, **extra) -> str:
        name = unique("job")
        s3.put_object(Bucket=bucket, Key=f"{name}.py", Body=script)
        client.create_job(
            Name=name,
            Role="arn:aws:iam::123456789012:role/glue",
            GlueVersion="3.0",
            MaxCapacity=0.0625,
            Command={"Name": "pythonshell", "PythonVersion": "3.9", "ScriptLocation": f"s3://{bucket}/{name}.py"},
            **extra,
        )
        return name

    make.bucket = bucket
    return make


def wait_for_run(client, job, run_id, timeout=20.0):
    return wait_until(
        lambda: (
            (r := client.get_job_run(JobName=job, RunId=run_id)["JobRun"])["JobRunState"]
            in ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
            and r
        ),
        timeout=timeout,
    )


def log_text(aws, group, stream) -> str:
    return "\n".join(
        e["message"] for e in aws("logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
    )


def test_job_runs_script_against_the_emulator(make_job, aws, monkeypatch, runtime):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "must-not-reach-the-script")
    client = aws("glue")
    job = make_job(ECHO_SCRIPT, DefaultArguments={"--bucket": make_job.bucket, "--table": "default", "--env": "local"})
    run_id = client.start_job_run(JobName=job, Arguments={"--table": "override"})["JobRunId"]
    assert run_id.startswith("jr_") and len(run_id) == 67
    run = wait_for_run(client, job, run_id)
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    assert run["CompletedOn"] >= run["StartedOn"] and run["LogGroupName"] == "/aws-glue/python-jobs"

    # A Python shell job gets its arguments and nothing else: no --JOB_NAME, no --JOB_RUN_ID (boto/boto3#3506).
    expected = {"--bucket": make_job.bucket, "--table": "override", "--env": "local"}
    written = aws("s3").get_object(Bucket=make_job.bucket, Key="out/result.json")["Body"].read()
    assert json.loads(written) == expected
    output = log_text(aws, "/aws-glue/python-jobs/output", run_id)
    assert output.splitlines()[0] == runtime.banner  # the log starts with the Python and library versions
    assert json.loads(output.split("ARGS ", 1)[1].splitlines()[0]) == expected
    assert "LEAKED None" in output
    assert [r["Id"] for r in client.get_job_runs(JobName=job)["JobRuns"]] == [run_id]


def test_failing_script_reports_its_exception(make_job, aws):
    client = aws("glue")
    job = make_job(FAILING_SCRIPT)
    run_id = client.start_job_run(JobName=job)["JobRunId"]
    run = wait_for_run(client, job, run_id)
    assert run["JobRunState"] == "FAILED"
    assert run["ErrorMessage"] == "ValueError: boom"
    errors = log_text(aws, "/aws-glue/python-jobs/error", run_id)
    assert "Traceback (most recent call last)" in errors and 'raise ValueError("boom")' in errors


def test_timeout_and_concurrency_and_stop(make_job, aws, monkeypatch):
    monkeypatch.setattr(glue_jobs, "SECONDS_PER_TIMEOUT_MINUTE", 0.5)
    client = aws("glue")
    slow = make_job(SLEEPING_SCRIPT, Timeout=1)
    started = time.monotonic()
    run = wait_for_run(client, slow, client.start_job_run(JobName=slow)["JobRunId"])
    assert run["JobRunState"] == "TIMEOUT" and time.monotonic() - started < 5

    single = make_job(SLEEPING_SCRIPT, ExecutionProperty={"MaxConcurrentRuns": 1})
    first = client.start_job_run(JobName=single)["JobRunId"]
    with pytest.raises(ClientError) as err:
        client.start_job_run(JobName=single)
    assert err.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    wait_until(lambda: "sleeping" in log_text(aws, "/aws-glue/python-jobs/output", first) or None)
    stopped = client.batch_stop_job_run(JobName=single, JobRunIds=[first, "jr_unknown"])
    assert [s["JobRunId"] for s in stopped["SuccessfulSubmissions"]] == [first]
    assert [e["JobRunId"] for e in stopped["Errors"]] == ["jr_unknown"]
    assert wait_for_run(client, single, first)["JobRunState"] == "STOPPED"
    client.start_job_run(JobName=single)  # the slot is free again
    glue.shutdown()


def test_a_run_passes_starting_and_counts_against_max_concurrent_runs_until_it_ends(make_job, aws, monkeypatch):
    """StartJobRun answers with a STARTING run; a missing script fails it after STARTING, and while it is
    STARTING it holds its MaxConcurrentRuns slot."""
    client = aws("glue")
    job = make_job("print('never runs')", ExecutionProperty={"MaxConcurrentRuns": 1})
    aws("s3").delete_object(Bucket=make_job.bucket, Key=f"{job}.py")
    release = threading.Event()
    ready = glue_runtime.resolve()
    monkeypatch.setattr(glue_runtime, "resolve", lambda: release.wait(20) and ready)

    run_id = client.start_job_run(JobName=job)["JobRunId"]
    assert client.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"] == "STARTING"
    with pytest.raises(ClientError) as err:
        client.start_job_run(JobName=job)
    assert err.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    release.set()
    run = wait_for_run(client, job, run_id)
    assert run["JobRunState"] == "FAILED" and f"s3://{make_job.bucket}/{job}.py" in run["ErrorMessage"]
    assert [r["Id"] for r in client.get_job_runs(JobName=job)["JobRuns"]] == [run_id]
    assert wait_for_run(client, job, client.start_job_run(JobName=job)["JobRunId"])["JobRunState"] == "FAILED"


def test_a_run_is_starting_for_a_while_even_when_it_fails_at_once(aws):
    """Glue provisions a run before it reads the script: a run whose job has no script is STARTING for a while
    (and holds the job's single MaxConcurrentRuns slot), then FAILED ("AWS Glue job run statuses")."""
    client = aws("glue")
    job = unique("job")
    client.create_job(Name=job, Role="arn:aws:iam::123456789012:role/glue", Command={"Name": "pythonshell"})
    run_id = client.start_job_run(JobName=job)["JobRunId"]
    time.sleep(glue_jobs.STARTING_SECONDS / 2)
    assert client.get_job_run(JobName=job, RunId=run_id)["JobRun"]["JobRunState"] == "STARTING"
    with pytest.raises(ClientError) as err:
        client.start_job_run(JobName=job)
    assert err.value.response["Error"]["Code"] == "ConcurrentRunsExceededException"
    run = wait_for_run(client, job, run_id)
    assert run["JobRunState"] == "FAILED" and "s3://" in run["ErrorMessage"]


# ---- units --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["1", "-2", ""], "bigint"),
        (["1", "2.5"], "double"),
        (["1e3", "4"], "double"),
        (["DL", "1"], "string"),
        (["", " "], "string"),
        (["9223372036854775808"], "double"),
    ],
)
def test_infer_type(values, expected):
    assert glue_classifier.infer_type(values) == expected


def test_classify_csv_header_detection():
    with_header = glue_classifier.classify_csv(b"Name,Age\nann,31\nbob,\n")
    assert with_header.has_header and with_header.columns == [("name", "string"), ("age", "bigint")]
    all_strings = glue_classifier.classify_csv(b"a,b\nc,d\n")  # nothing tells the header from data: Glue's col0…
    assert not all_strings.has_header and [n for n, _ in all_strings.columns] == ["col0", "col1"]
    assert glue_classifier.classify_csv(b"x|y\n1|2\n").delimiter == "|"
    assert glue_classifier.classify_csv(b"just one line\n") is None
    assert glue_classifier.classify_csv(b"a,b\n1,2\n"[:0]) is None
    assert glue_classifier.classify_csv(b"\x00\x01\x02") is None
    truncated = glue_classifier.classify_csv(b"a,b\n1,2\n3,4\n5,6.", truncated=True)
    assert truncated.columns == [("a", "bigint"), ("b", "bigint")]


def test_install_is_idempotent(local_stack):
    from moto.glue.models import FakeCrawler, FakeJob

    glue.install(local_stack.ctx)
    glue.install(local_stack.ctx)
    assert FakeCrawler.start_crawler is glue_crawler._start_crawler
    assert FakeJob.start_job_run is glue_jobs._start_job_run


def test_exclusion_globs():
    patterns = [glue_classifier.glob_to_regex(p) for p in ["*.tmp", "logs/**", "date=2024-01-0{1,2}"]]
    assert glue_classifier.is_excluded("x.tmp", patterns)
    assert not glue_classifier.is_excluded("date=2024-01-05/x.tmp", patterns)  # * does not cross folders
    assert glue_classifier.is_excluded("logs/a/b.csv", patterns)
    assert glue_classifier.is_excluded("date=2024-01-02/flights.csv", patterns)
    assert not glue_classifier.is_excluded("date=2024-01-03/flights.csv", patterns)


def test_error_message_from_stderr():
    stderr = (
        'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n    x()\n'
        "KeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\n"
        'Traceback (most recent call last):\n  File "a.py", line 3, in <module>\n'
        "ValueError: s3://b/k: header only\n"
    )
    assert glue_jobs.error_message_from_stderr(stderr, 1) == "ValueError: s3://b/k: header only"
    assert glue_jobs.error_message_from_stderr("", 3) == "Command failed with exit code 3"


def test_settings_without_dashes_configure_glue_not_the_script(tmp_path):
    arguments = {"library-set": "analytics", "--day": "2013-01-01"}
    argv = glue_jobs.job_command_line("python3.9", tmp_path / "job.py", "j", "jr_1", arguments)
    assert argv == ["python3.9", "-u", str(tmp_path / "job.py"), "--day", "2013-01-01"]  # Python shell
    spark = glue_jobs.job_command_line("python3.9", tmp_path / "job.py", "j", "jr_1", arguments, "glueetl")
    assert spark[-6:] == ["--day", "2013-01-01", "--JOB_NAME", "j", "--JOB_RUN_ID", "jr_1"]


def test_update_crawler_changes_only_what_is_given(aws):
    glue_client = aws("glue")
    name = f"upd-{uuid.uuid4().hex[:6]}"
    glue_client.create_database(DatabaseInput={"Name": name})
    glue_client.create_crawler(Name=name, Role="arn:aws:iam::000000000000:role/r", DatabaseName=name,
                               Targets={"S3Targets": [{"Path": "s3://a/x/"}]}, TablePrefix="old_")
    glue_client.update_crawler(Name=name, Targets={"S3Targets": [{"Path": "s3://b/y/"}]})
    crawler = glue_client.get_crawler(Name=name)["Crawler"]
    assert crawler["Targets"]["S3Targets"][0]["Path"] == "s3://b/y/"
    assert crawler["TablePrefix"] == "old_" and crawler["Version"] == 2


# ---- crawl duration -----------------------------------------------------------------------------


def test_a_crawl_stays_running_for_the_configured_time(lake, monkeypatch):
    monkeypatch.setenv(glue_crawler.CRAWL_SECONDS_ENV, "0.6")
    lake.put("flights/date=2024-01-01/part.csv", b"carrier,delay\nAA,1\n")
    name = lake.crawler()
    started = time.monotonic()
    states = run_crawler(lake.glue, name)
    took = time.monotonic() - started
    assert states[0] == "RUNNING" and states[-1] == "READY"
    assert took >= 0.6  # a lower bound only: the crawl may take longer, never shorter
    (metrics,) = lake.glue.get_crawler_metrics(CrawlerNameList=[name])["CrawlerMetricsList"]
    assert metrics["LastRuntimeSeconds"] >= 0.6
    assert lake.glue.get_crawler(Name=name)["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"


def test_stop_crawler_ends_the_wait(lake, monkeypatch):
    monkeypatch.setenv(glue_crawler.CRAWL_SECONDS_ENV, "60")
    lake.put("flights/date=2024-01-01/part.csv", b"carrier,delay\nAA,1\n")
    name = lake.crawler()
    lake.glue.start_crawler(Name=name)
    wait_until(lambda: lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "RUNNING" or None)
    lake.glue.stop_crawler(Name=name)
    crawler = wait_until(
        lambda: (c := lake.glue.get_crawler(Name=name)["Crawler"])["State"] == "READY" and c or None, timeout=10
    )
    assert crawler["LastCrawl"]["Status"] == "CANCELLED"


def test_a_failing_crawl_runs_until_it_is_stopped(lake, monkeypatch):
    # On AWS a crawl whose database is missing fails long after StartCrawler, so it can still be stopped; after
    # StopCrawler the crawler is STOPPING (AWS Glue API, StopCrawler; Crawler.State: READY | RUNNING | STOPPING).
    monkeypatch.setenv(glue_crawler.CRAWL_SECONDS_ENV, "60")
    name = lake.crawler(name=unique("orphan"), db="no_such_db")
    lake.glue.start_crawler(Name=name)
    time.sleep(0.3)  # the missing database is found at once; the crawl still runs
    assert lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "RUNNING"
    lake.glue.stop_crawler(Name=name)
    assert lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "STOPPING"
    crawler = wait_until(
        lambda: (c := lake.glue.get_crawler(Name=name)["Crawler"])["State"] == "READY" and c or None, timeout=10
    )
    assert crawler["LastCrawl"]["Status"] == "CANCELLED"


def test_a_crawling_crawler_cannot_be_deleted(lake, monkeypatch):
    # AWS Glue API, "DeleteCrawler": CrawlerRunningException while the crawler runs.
    monkeypatch.setenv(glue_crawler.CRAWL_SECONDS_ENV, "60")
    lake.put("flights/date=2024-01-01/part.csv", b"carrier,delay\nAA,1\n")
    name = lake.crawler()
    lake.glue.start_crawler(Name=name)
    with pytest.raises(ClientError, match="CrawlerRunningException"):
        lake.glue.delete_crawler(Name=name)
    lake.glue.stop_crawler(Name=name)
    wait_until(lambda: lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "READY" or None, timeout=10)
    lake.glue.delete_crawler(Name=name)
    with pytest.raises(ClientError, match="EntityNotFoundException"):
        lake.glue.get_crawler(Name=name)


@pytest.mark.parametrize("variable", [glue_crawler.CRAWL_SECONDS_ENV, glue_crawler.STOPPING_SECONDS_ENV])
@pytest.mark.parametrize("setting", ["soon", "-1", "inf"])
def test_a_bad_crawl_time_setting_is_refused_with_its_name(lake, monkeypatch, setting, variable):
    monkeypatch.setenv(variable, setting)
    name = lake.crawler()
    with pytest.raises(ClientError) as refused:
        lake.glue.start_crawler(Name=name)
    assert refused.value.response["Error"]["Code"] == "InvalidInputException"
    assert variable in refused.value.response["Error"]["Message"]
    assert lake.glue.get_crawler(Name=name)["Crawler"]["State"] == "READY"


def test_get_partitions_without_the_column_schema_keeps_values_and_location(lake):
    # AWS Glue API, GetPartitions: ExcludeColumnSchema=true leaves out the partition column schema only.
    columns = [{"Name": "carrier", "Type": "string"}, {"Name": "depdelay", "Type": "bigint"}]
    lake.glue.create_table(DatabaseName=lake.db, TableInput={
        "Name": "days", "PartitionKeys": [{"Name": "date", "Type": "string"}],
        "StorageDescriptor": {"Columns": columns, "Location": f"s3://{lake.bucket}/days/"}})
    for day in ("2024-01-01", "2024-01-02"):
        lake.glue.create_partition(DatabaseName=lake.db, TableName="days", PartitionInput={
            "Values": [day], "StorageDescriptor": {"Columns": columns, "Location": f"s3://{lake.bucket}/days/date={day}/",
                                                   "InputFormat": "org.apache.hadoop.mapred.TextInputFormat"}})

    def read(**options):
        parts = lake.glue.get_partitions(DatabaseName=lake.db, TableName="days", **options)["Partitions"]
        return sorted(parts, key=lambda p: p["Values"])

    full, slim = read(), read(ExcludeColumnSchema=True)
    assert [p["StorageDescriptor"]["Columns"] for p in full] == [columns, columns]
    assert ["Columns" in p["StorageDescriptor"] for p in slim] == [False, False]
    for p in full:
        del p["StorageDescriptor"]["Columns"]
    assert slim == full  # everything else as without the option
    assert read(ExcludeColumnSchema=False)[0]["StorageDescriptor"]["Columns"] == columns  # stored ones kept
