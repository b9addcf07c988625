"""AWS Glue that really works on the local stack: crawlers that catalog CSV data, jobs that run scripts.

moto keeps crawlers and job runs as records whose states advance on a timer and never do any work.
`install(ctx)` patches moto's Glue models so that

* `StartCrawler` crawls the crawler's S3 targets (read in-process from moto's S3) in a background
  thread and writes tables and partitions into moto's Data Catalog, the way Glue's built-in CSV
  classifier would: RUNNING → STOPPING → READY, with `LastCrawl` and a crawl log in CloudWatch Logs;
* `StartJobRun` downloads the job's script from S3 and runs it with this Python as a subprocess, like
  a Glue Python shell job: arguments as `--key value`, boto3 inside the script pointed at the emulator,
  stdout/stderr shipped to CloudWatch Logs, `Timeout` enforced, `BatchStopJobRun` honoured.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.core.utils import utcnow
from moto.glue.exceptions import (
    ConcurrentRunsExceededException,
    CrawlerNotRunningException,
    CrawlerRunningException,
    GlueClientError,
)
from moto.glue.models import FakeCrawl, FakeCrawler, FakeJob, FakeJobRun, GlueBackend
from moto.glue.responses import GlueResponse
from moto.s3.models import FakeKey, s3_backends

from flightpipe.local.context import StackContext

log = logging.getLogger("flightpipe.local.glue")

# Pause in the STOPPING state after a crawl's work is done (Glue "finishes writing to the catalog").
STOPPING_SECONDS = 0.05
# A job's Timeout is in minutes; tests shrink the minute to check TIMEOUT quickly.
SECONDS_PER_TIMEOUT_MINUTE = 60.0
# How often a job's watcher checks for exit/stop/timeout and ships new output to CloudWatch Logs.
JOB_POLL_SECONDS = 0.05
# The classifier only reads the head of each object (Glue samples, it doesn't read whole files).
SAMPLE_BYTES = 1024 * 1024

CRAWLER_LOG_GROUP = "/aws-glue/crawlers"
JOB_LOG_GROUP = "/aws-glue/python-jobs"
JOB_OUTPUT_LOG_GROUP = "/aws-glue/python-jobs/output"
JOB_ERROR_LOG_GROUP = "/aws-glue/python-jobs/error"

CSV_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
CSV_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
CSV_DELIMITERS = (",", "|", "\t", ";", "\x01")  # the ones Glue's built-in CSV classifier tries

_ctx: StackContext | None = None
_crawl_threads: list[threading.Thread] = []
_active_runs: list[LocalJobRun] = []
_registry_lock = threading.Lock()


class CrawlerStoppingException(GlueClientError):
    def __init__(self, msg: str):
        super().__init__("CrawlerStoppingException", msg)


# --------------------------------------------------------------------------------------------------
# CSV classification: what Glue's built-in CSV classifier infers from the head of one object
# --------------------------------------------------------------------------------------------------

_BIGINT = re.compile(r"^[+-]?\d+$")
_DOUBLE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_TYPE_RANK = {"bigint": 0, "double": 1, "string": 2}


def infer_type(values: list[str]) -> str:
    """`bigint` if every non-empty value is an integer, `double` if numeric, else `string`.
    Empty values say nothing about the type; a column with no values at all is a `string`."""
    seen = [v.strip() for v in values if v.strip()]
    if not seen:
        return "string"
    if all(_BIGINT.match(v) and -(2**63) <= int(v) < 2**63 for v in seen):
        return "bigint"
    if all(_DOUBLE.match(v) for v in seen):
        return "double"
    return "string"


def wider_type(a: str, b: str) -> str:
    """The type that holds values of both (bigint ⊂ double ⊂ string)."""
    return a if _TYPE_RANK[a] >= _TYPE_RANK[b] else b


@dataclass
class CsvSchema:
    columns: list[tuple[str, str]]  # (lower-case name, Hive type)
    has_header: bool
    delimiter: str
    quoted: bool
    sampled_rows: int
    sampled_bytes: int


def _parse(text: str, delimiter: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if row]


def classify_csv(head: bytes, truncated: bool = False) -> CsvSchema | None:
    """Classify the first bytes of an object as CSV, or None (Glue would say UNKNOWN).

    Like Glue: at least two columns and two rows; a header is recognised when the first row is
    all strings while some data column parses as a non-string (else columns are col0, col1, …)."""
    if not head or b"\x00" in head:
        return None
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if truncated and "\n" in text:  # drop the partial last line of a sampled object
        text = text[: text.rfind("\n") + 1]
    for delimiter in CSV_DELIMITERS:
        rows = _parse(text, delimiter)
        if len(rows) < 2 or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        if sum(len(r) == width for r in rows) < 0.9 * len(rows):
            continue
        rows = [r for r in rows if len(r) == width]
        first, data = rows[0], rows[1:]
        data_types = [infer_type([r[i] for r in data]) for i in range(width)]
        header = all(infer_type([v]) == "string" and v.strip() for v in first) and any(
            t != "string" for t in data_types
        )
        if header:
            names = _column_names(first)
        else:
            names = [f"col{i}" for i in range(width)]
            data = rows
            data_types = [infer_type([r[i] for r in data]) for i in range(width)]
        quoted = '"' in text
        if quoted:  # Glue catalogs quoted CSV with OpenCSVSerde, which reads every column as string
            data_types = ["string"] * width
        return CsvSchema(
            columns=list(zip(names, data_types, strict=True)),
            has_header=header,
            delimiter=delimiter,
            quoted=quoted,
            sampled_rows=len(data),
            sampled_bytes=len(text.encode()),
        )
    return None


def _column_names(header: list[str]) -> list[str]:
    names: list[str] = []
    for i, raw in enumerate(header):
        name = raw.strip().lower() or f"col{i}"
        while name in names:
            name = f"{name}_{i}"
        names.append(name)
    return names


def merge_columns(schemas: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """Union of columns in order of first appearance, each with the widest type seen."""
    merged: dict[str, str] = {}
    for columns in schemas:
        for name, typ in columns:
            merged[name] = wider_type(merged[name], typ) if name in merged else typ
    return list(merged.items())


# --------------------------------------------------------------------------------------------------
# Exclusions: Glue's glob dialect, matched against the path relative to the include path
# --------------------------------------------------------------------------------------------------


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """`*` stays within a folder, `**` crosses folders, `?` one character, `[!a-z]`, `{a,b}`."""
    out, i, depth = [], 0, 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
                i = end
        elif c == "{":
            out.append("(?:")
            depth += 1
        elif c == "}" and depth:
            out.append(")")
            depth -= 1
        elif c == "," and depth:
            out.append("|")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def is_excluded(relative_key: str, patterns: list[re.Pattern[str]]) -> bool:
    """A file is excluded if its path, or the path of a folder above it, matches a pattern."""
    parts = relative_key.split("/")
    candidates = [relative_key]
    for n in range(1, len(parts)):
        folder = "/".join(parts[:n])
        candidates += [folder, folder + "/"]
    return any(p.match(c) for p in patterns for c in candidates)


# --------------------------------------------------------------------------------------------------
# The crawl itself
# --------------------------------------------------------------------------------------------------


class CrawlCancelled(Exception):
    pass


@dataclass
class _Folder:
    """One partition folder (or the target itself when the data is not partitioned)."""

    values: list[str]
    location: str
    schemas: list[CsvSchema] = field(default_factory=list)
    size: int = 0


@dataclass
class CrawlSummary:
    tables_created: int = 0
    tables_updated: int = 0
    partitions_created: int = 0
    partitions_updated: int = 0
    files_skipped: int = 0


def _split_s3_path(path: str) -> tuple[str, str]:
    bucket, _, prefix = path.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


def _read_head(key: Any, limit: int) -> bytes:
    with key.lock:
        key._value_buffer.seek(0)
        return key._value_buffer.read(limit)


def _csv_parameters(schema: CsvSchema, crawler_name: str, size: int, objects: int) -> dict[str, str]:
    average = max(1, round(schema.sampled_bytes / max(1, schema.sampled_rows)))
    params = {
        "CrawlerSchemaDeserializerVersion": "1.0",
        "CrawlerSchemaSerializerVersion": "1.0",
        "UPDATED_BY_CRAWLER": crawler_name,
        "areColumnsQuoted": str(schema.quoted).lower(),
        "averageRecordSize": str(average),
        "classification": "csv",
        "columnsOrdered": "true",
        "compressionType": "none",
        "delimiter": schema.delimiter,
        "objectCount": str(objects),
        "recordCount": str(size // average),
        "sizeKey": str(size),
        "typeOfData": "file",
    }
    if schema.has_header:
        params["skip.header.line.count"] = "1"
    return params


def _storage_descriptor(
    columns: list[tuple[str, str]], location: str, schema: CsvSchema, params: dict[str, str]
) -> dict[str, Any]:
    if schema.quoted:
        serde = {
            "SerializationLibrary": OPEN_CSV_SERDE,
            "Parameters": {"separatorChar": schema.delimiter, "quoteChar": '"'},
        }
    else:
        serde = {"SerializationLibrary": LAZY_SIMPLE_SERDE, "Parameters": {"field.delim": schema.delimiter}}
    return {
        "Columns": [{"Name": n, "Type": t} for n, t in columns],
        "Location": location,
        "InputFormat": CSV_INPUT_FORMAT,
        "OutputFormat": CSV_OUTPUT_FORMAT,
        "Compressed": False,
        "NumberOfBuckets": -1,
        "SerdeInfo": serde,
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": params,
        "StoredAsSubDirectories": False,
    }


class CrawlRun:
    """Crawls one crawler's S3 targets into its database; `log` lines go to CloudWatch Logs."""

    def __init__(self, crawler: FakeCrawler, crawl: LocalCrawl):
        self.crawler = crawler
        self.crawl = crawl
        self.glue: GlueBackend = crawler.backend
        self.summary = CrawlSummary()
        self.lines: list[str] = []

    def log(self, level: str, message: str) -> None:
        self.lines.append(f"[{self.crawl.crawl_id}] {level} : {message}")
        log.info("crawler %s: %s", self.crawler.name, message)

    def check_cancelled(self) -> None:
        if self.crawl.cancel_requested:
            raise CrawlCancelled()

    def run(self) -> None:
        self.log("BENCHMARK", f"Running Start Crawl for Crawler {self.crawler.name}")
        database = self.crawler.database_name
        if database not in self.glue.databases:
            raise RuntimeError(
                f"Database {database} not found. The crawler's output database must exist in the "
                "Data Catalog before the crawl (create_database)."
            )
        for target in (self.crawler.targets or {}).get("S3Targets", []):
            self.check_cancelled()
            self.crawl_target(target)
        self.log("BENCHMARK", "Finished writing to Catalog")

    def crawl_target(self, target: dict[str, Any]) -> None:

        path = target["Path"]
        bucket_name, prefix = _split_s3_path(path)
        s3 = s3_backends[self.glue.account_id]["global"]
        if bucket_name not in s3.buckets:
            raise RuntimeError(f"Cannot crawl {path}: the bucket {bucket_name} does not exist.")
        excludes = [glob_to_regex(p) for p in target.get("Exclusions") or []]
        folders: dict[tuple[str, ...], _Folder] = {}
        key_names: list[str] | None = None
        for name, key in sorted(s3.buckets[bucket_name].keys.items(), key=lambda item: item[0]):
            if not name.startswith(prefix) or name.endswith("/") or not isinstance(key, FakeKey):
                continue
            self.check_cancelled()
            relative = name[len(prefix) :]
            uri = f"s3://{bucket_name}/{name}"
            if is_excluded(relative, excludes):
                self.log("INFO", f"Excluded by pattern: {uri}")
                continue
            *dirs, filename = relative.split("/")
            if filename.startswith(("_", ".")):
                continue  # Hadoop/Hive hidden files (_SUCCESS, .crc) are not data
            schema = self.classify(uri, key)
            if schema is None:
                continue
            names = [d.split("=", 1)[0] if "=" in d else f"partition_{i}" for i, d in enumerate(dirs)]
            if key_names is None:
                key_names = names
            if names != key_names:
                self.summary.files_skipped += 1
                self.log("WARN", f"Skipping {uri}: its folder layout differs from the table's {key_names}")
                continue
            values = tuple(d.split("=", 1)[1] if "=" in d else d for d in dirs)
            location = f"s3://{bucket_name}/{prefix}" + "".join(d + "/" for d in dirs)
            folder = folders.setdefault(values, _Folder(list(values), location))
            folder.schemas.append(schema)
            folder.size += key.size
        if not folders:
            self.log("INFO", f"No CSV data found under {path}")
            return
        table_name = (self.crawler.table_prefix or "") + (prefix.strip("/").rsplit("/", 1)[-1] or bucket_name)
        self.write_table(table_name.lower(), f"s3://{bucket_name}/{prefix}", key_names or [], folders)

    def classify(self, uri: str, key: Any) -> CsvSchema | None:
        if key.size == 0:
            self.summary.files_skipped += 1
            self.log("WARN", f"Skipping empty object {uri}: classification UNKNOWN")
            return None
        head = _read_head(key, SAMPLE_BYTES)
        schema = classify_csv(head, truncated=key.size > len(head))
        if schema is None:
            self.summary.files_skipped += 1
            self.log("WARN", f"Skipping {uri}: not recognised as CSV, classification UNKNOWN")
        return schema

    def write_table(
        self, name: str, location: str, key_names: list[str], folders: dict[tuple[str, ...], _Folder]
    ) -> None:
        database = self.crawler.database_name
        all_schemas = [s for f in folders.values() for s in f.schemas]
        first = all_schemas[0]
        columns = merge_columns([s.columns for s in all_schemas])
        size = sum(f.size for f in folders.values())
        params = _csv_parameters(first, self.crawler.name, size, len(all_schemas))
        table_input = {
            "Name": name,
            "Owner": "owner",
            "Retention": 0,
            "TableType": "EXTERNAL_TABLE",
            "PartitionKeys": [{"Name": k, "Type": "string"} for k in key_names],
            "StorageDescriptor": _storage_descriptor(columns, location, first, params),
            "Parameters": params,
        }
        tables = self.glue.databases[database].tables
        existing = tables.get(name)
        new_folders_only = (self.crawler.recrawl_policy or {}).get("RecrawlBehavior") == "CRAWL_NEW_FOLDERS_ONLY"
        if existing is None:
            self.glue.create_table(database, name, table_input)
            self.summary.tables_created += 1
            self.log("INFO", f"Created table {name} in database {database}")
        elif _schema_of(existing.as_dict()) != _schema_of(table_input) and not new_folders_only:
            behaviour = (self.crawler.schema_change_policy or {}).get("UpdateBehavior", "UPDATE_IN_DATABASE")
            if behaviour == "LOG":
                self.log("WARN", f"Schema of table {name} changed; not updated (UpdateBehavior LOG)")
            else:
                self.glue.update_table(database, name, table_input)
                self.summary.tables_updated += 1
                self.log("INFO", f"Table {name} in database {database} updated: schema changed")
        if key_names:
            self.write_partitions(name, folders, columns)

    def write_partitions(
        self, table_name: str, folders: dict[tuple[str, ...], _Folder], table_columns: list[tuple[str, str]]
    ) -> None:
        database = self.crawler.database_name
        table = self.glue.get_table(database, table_name)
        inherit = _partitions_inherit_from_table(self.crawler.configuration)
        new_partitions = []
        for folder in folders.values():
            columns = table_columns if inherit else merge_columns([s.columns for s in folder.schemas])
            schema = folder.schemas[0]
            params = _csv_parameters(schema, self.crawler.name, folder.size, len(folder.schemas))
            partition_input = {
                "Values": folder.values,
                "StorageDescriptor": _storage_descriptor(columns, folder.location, schema, params),
                "Parameters": params,
            }
            current = table.partitions.get(str(folder.values))
            if current is None:
                new_partitions.append(partition_input)
            elif _schema_of(current.partition_input) != _schema_of(partition_input):
                self.glue.update_partition(database, table_name, partition_input, folder.values)
                self.summary.partitions_updated += 1
        if new_partitions:
            self.glue.batch_create_partition(database, table_name, new_partitions)
            self.summary.partitions_created += len(new_partitions)
            self.log("INFO", f"Added {len(new_partitions)} partition(s) to table {table_name}")


def _schema_of(table_or_partition: dict[str, Any]) -> tuple:
    sd = table_or_partition.get("StorageDescriptor", {})
    return (
        [(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
        [(k["Name"], k["Type"]) for k in table_or_partition.get("PartitionKeys", [])],
        sd.get("Location"),
        sd.get("SerdeInfo", {}).get("SerializationLibrary"),
    )


def _partitions_inherit_from_table(configuration: str | None) -> bool:
    try:
        config = json.loads(configuration or "{}")
    except ValueError:
        return False
    behaviour = config.get("CrawlerOutput", {}).get("Partitions", {}).get("AddOrUpdateBehavior")
    return behaviour == "InheritFromTable"


# --------------------------------------------------------------------------------------------------
# Crawler states: a crawl runs in a thread; moto's FakeCrawler reads its state from the last crawl
# --------------------------------------------------------------------------------------------------

_LAST_CRAWL_STATUS = {"COMPLETED": "SUCCEEDED", "FAILED": "FAILED", "STOPPED": "CANCELLED"}


class LocalCrawl(FakeCrawl):
    """A crawl whose state is set by the crawl thread (RUNNING, STOPPING, then COMPLETED/FAILED/STOPPED)
    instead of moto's timer."""

    def __init__(self, crawler_name: str):
        super().__init__(crawler_name)
        self._status = "RUNNING"
        self.started = time.monotonic()
        self.elapsed_seconds: float | None = None
        self.error_message: str | None = None
        self.cancel_requested = False
        self.summary = CrawlSummary()

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value

    def advance(self) -> None:
        pass

    @property
    def finished(self) -> bool:
        return self._status in _LAST_CRAWL_STATUS

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        if self.error_message:
            data["ErrorMessage"] = self.error_message
        if self.finished:  # the shape ListCrawls shows, e.g. {"TABLE": {"ADD": {"Count": 1}}, …}
            s = self.summary
            counts = {
                "TABLE": {"ADD": s.tables_created, "UPDATE": s.tables_updated},
                "PARTITION": {"ADD": s.partitions_created, "UPDATE": s.partitions_updated},
            }
            data["Summary"] = json.dumps(
                {kind: {op: {"Count": n} for op, n in ops.items() if n} for kind, ops in counts.items()}
            )
        return data


def _start_crawler(self: FakeCrawler) -> None:
    if self.crawls and not self.crawls[-1].finished:
        raise CrawlerRunningException(f"Crawler with name {self.name} has already started")
    crawl = LocalCrawl(self.name)
    self.crawls.append(crawl)
    thread = threading.Thread(target=_run_crawl, args=(self, crawl), name=f"crawl-{self.name}", daemon=True)
    with _registry_lock:
        _crawl_threads[:] = [t for t in _crawl_threads if t.is_alive()] + [thread]
    thread.start()


def _stop_crawler(self: FakeCrawler) -> None:
    crawl = self.crawls[-1] if self.crawls else None
    if crawl is None or crawl.finished:
        raise CrawlerNotRunningException(f"Crawler with name {self.name} isn't running")
    if crawl.status == "STOPPING":
        raise CrawlerStoppingException(f"Crawler with name {self.name} is stopping")
    crawl.cancel_requested = True
    crawl.status = "STOPPING"


def _run_crawl(crawler: FakeCrawler, crawl: LocalCrawl) -> None:
    run = CrawlRun(crawler, crawl)
    final = "COMPLETED"
    try:
        run.run()
    except CrawlCancelled:
        final = "STOPPED"
        run.log("INFO", "Crawl cancelled by StopCrawler")
    except Exception as exc:  # any failure ends the crawl FAILED, as on AWS, with the reason kept
        final = "FAILED"
        crawl.error_message = str(exc)
        run.log("ERROR", str(exc))
        log.exception("crawler %s failed", crawler.name)
    if crawl.cancel_requested:
        final = "STOPPED"
    crawl.summary = run.summary
    crawl.status = "STOPPING"
    time.sleep(STOPPING_SECONDS)
    crawl.elapsed_seconds = time.monotonic() - crawl.started
    crawl.end_time = utcnow()
    s = run.summary
    run.log(
        "INFO",
        f"Tables created: {s.tables_created}, tables updated: {s.tables_updated}, partitions created: "
        f"{s.partitions_created}, partitions updated: {s.partitions_updated}, files skipped: {s.files_skipped}",
    )
    run.log("BENCHMARK", "Crawler has finished running and is in state READY")
    _put_log_lines(crawler.backend, CRAWLER_LOG_GROUP, crawler.name, run.lines)
    crawl.status = final


_original_crawler_as_dict = FakeCrawler.as_dict


def _crawler_as_dict(self: FakeCrawler) -> dict[str, Any]:
    """`LastCrawl` is the last *finished* crawl (SUCCEEDED/FAILED/CANCELLED), as GetCrawler shows it;
    `CrawlElapsedTime` counts milliseconds while a crawl runs."""
    data = _original_crawler_as_dict(self)
    data.pop("LastCrawl", None)
    data["CrawlElapsedTime"] = 0
    finished = [c for c in self.crawls if getattr(c, "finished", False)]
    if finished:
        last = finished[-1]
        data["LastCrawl"] = {
            "Status": _LAST_CRAWL_STATUS[last.status],
            "LogGroup": last.log_group,
            "LogStream": last.log_stream,
            "MessagePrefix": last.message_prefix,
            "StartTime": last.start_time,
        }
        if last.error_message:
            data["LastCrawl"]["ErrorMessage"] = last.error_message
    if self.crawls and not getattr(self.crawls[-1], "finished", True):
        data["CrawlElapsedTime"] = int((time.monotonic() - self.crawls[-1].started) * 1000)
    return data


def _get_crawler_metrics(self: GlueBackend, crawler_names: list[str] | None) -> list[dict[str, Any]]:
    metrics = []
    for name in crawler_names or list(self.crawlers):
        crawler = self.get_crawler(name)
        runtimes = sorted(c.elapsed_seconds for c in crawler.crawls if getattr(c, "elapsed_seconds", None))
        last = next((c for c in reversed(crawler.crawls) if getattr(c, "finished", False)), None)
        summary = last.summary if last else CrawlSummary()
        metrics.append(
            {
                "CrawlerName": name,
                "TimeLeftSeconds": 0.0,
                "StillEstimating": False,
                "LastRuntimeSeconds": last.elapsed_seconds if last else 0.0,
                "MedianRuntimeSeconds": runtimes[len(runtimes) // 2] if runtimes else 0.0,
                "TablesCreated": summary.tables_created,
                "TablesUpdated": summary.tables_updated,
                "TablesDeleted": 0,
            }
        )
    return metrics


def _response_get_crawler_metrics(self: GlueResponse) -> Any:
    from moto.core.responses import ActionResult

    names = self._get_param("CrawlerNameList")
    return ActionResult({"CrawlerMetricsList": self.glue_backend.get_crawler_metrics(names)})


# UpdateCrawler (moto lacks it): the fields given replace the crawler's; a running crawler can't change.
_CRAWLER_FIELDS = {
    "Role": "role", "DatabaseName": "database_name", "Description": "description", "Targets": "targets",
    "Schedule": "schedule", "Classifiers": "classifiers", "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy", "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration", "Configuration": "configuration",
    "CrawlerSecurityConfiguration": "crawler_security_configuration",
}


def _response_update_crawler(self: GlueResponse) -> Any:
    from moto.core.responses import EmptyResult

    crawler = self.glue_backend.get_crawler(self._get_param("Name"))
    state = crawler.as_dict()["State"]
    if state != "READY":
        raise CrawlerRunningException(f"Crawler {crawler.name} is {state}: it can't be updated now.")
    for param, attribute in _CRAWLER_FIELDS.items():
        if self._get_param(param) is not None:
            setattr(crawler, attribute, self._get_param(param))
    crawler.version += 1
    crawler.last_updated = utcnow()
    return EmptyResult()


# --------------------------------------------------------------------------------------------------
# Job runs: a Glue Python shell job is the script run by this Python in a subprocess
# --------------------------------------------------------------------------------------------------

_ACTIVE_STATES = ("STARTING", "RUNNING", "STOPPING")


class LocalJobRun(FakeJobRun):
    """A job run backed by a real process; its state is set by the process's watcher thread."""

    def __init__(self, job: FakeJob, **kwargs: Any):
        super().__init__(job_name=job.name, **kwargs)
        self._status = "STARTING"
        self.job = job
        self.glue_version = job.glue_version
        self.error_message: str | None = None
        self.completed_on = None
        self.started = time.monotonic()
        self.execution_seconds: int = 0
        self.process: subprocess.Popen | None = None
        self.stop_requested = False
        self.run_dir: Path | None = None
        self.log_offsets = {"stdout": 0, "stderr": 0}

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value
        self.modified_on = utcnow()

    def advance(self) -> None:
        pass

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["LogGroupName"] = JOB_LOG_GROUP
        data["GlueVersion"] = self.glue_version or "3.0"
        running = self._status in _ACTIVE_STATES
        data["ExecutionTime"] = math.ceil(time.monotonic() - self.started) if running else self.execution_seconds
        data.pop("CompletedOn", None)
        if self.completed_on:
            data["CompletedOn"] = self.completed_on
        if self.error_message:
            data["ErrorMessage"] = self.error_message
        return data


def _start_job_run(
    self: FakeJob,
    allocated_capacity: int | None,
    max_capacity: float | None,
    timeout: int | None,
    worker_type: str | None,
    security_configuration: str | None,
    number_of_workers: int | None,
    notification_property: dict[str, int] | None,
    previous_run_id: str | None,
    arguments: dict[str, str] | None,
) -> str:
    active = sum(run.status in _ACTIVE_STATES for run in self.job_runs)
    if active >= (self.execution_property or {}).get("MaxConcurrentRuns", 1):
        raise ConcurrentRunsExceededException(f"Job with name {self.name} already running")
    run_arguments = {**self.default_arguments, **(arguments or {}), **(self.non_overridable_arguments or {})}
    run = LocalJobRun(
        self,
        job_run_id=previous_run_id,
        arguments=run_arguments,
        allocated_capacity=allocated_capacity or self.allocated_capacity,
        max_capacity=max_capacity or self.max_capacity,
        timeout=timeout or self.timeout,
        worker_type=worker_type or self.worker_type,
        security_configuration=security_configuration or self.security_configuration,
        number_of_workers=number_of_workers or self.number_of_workers,
        notification_property=notification_property or self.notification_property,
    )
    self.job_runs.append(run)
    _launch(run)
    return run.job_run_id


def job_command_line(script: Path, job_name: str, run_id: str, arguments: dict[str, str]) -> list[str]:
    """How Glue calls a Python shell script: `script --key value … --JOB_NAME n --JOB_RUN_ID jr_…`."""
    argv = [sys.executable, "-u", str(script)]
    for key, value in arguments.items():
        if key.startswith("--"):  # keys without dashes (e.g. `library-set`) configure Glue, not the script
            argv += [key, value]
    return argv + ["--JOB_NAME", job_name, "--JOB_RUN_ID", run_id]


def job_environment(ctx: StackContext) -> dict[str, str]:
    """This process's environment minus every real AWS setting, plus the emulator's endpoint and
    placeholder credentials, so boto3/awswrangler in the script talk to the local stack only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=ctx.endpoint,
        AWS_ACCESS_KEY_ID="local",
        AWS_SECRET_ACCESS_KEY="local",
        AWS_DEFAULT_REGION=ctx.region,
        AWS_REGION=ctx.region,
        PYTHONUNBUFFERED="1",
    )
    return env


def _fetch_script(run: LocalJobRun) -> Path:

    location = run.arguments.get("--scriptLocation") or (run.job.command or {}).get("ScriptLocation", "")
    if not location.startswith("s3://"):
        raise RuntimeError(f"Script location {location!r} is not an s3:// URI")
    bucket, _, key_name = location.removeprefix("s3://").partition("/")
    s3 = s3_backends[run.job.backend.account_id]["global"]
    key = s3.buckets[bucket].keys.get(key_name) if bucket in s3.buckets else None
    if not isinstance(key, FakeKey):
        raise RuntimeError(f"Script not found at {location}")
    script = run.run_dir / Path(key_name).name
    script.write_bytes(key.value)
    return script


def _launch(run: LocalJobRun) -> None:
    ctx = _require_ctx()
    run.run_dir = ctx.state_dir / "glue" / "jobs" / run.job_name / run.job_run_id
    run.run_dir.mkdir(parents=True, exist_ok=True)
    try:
        script = _fetch_script(run)
        argv = job_command_line(script, run.job_name, run.job_run_id, run.arguments or {})
        with open(run.run_dir / "stdout.log", "wb") as out, open(run.run_dir / "stderr.log", "wb") as err:
            run.process = subprocess.Popen(
                argv, cwd=run.run_dir, env=job_environment(ctx), stdout=out, stderr=err, start_new_session=True
            )
    except Exception as exc:  # the run exists (it has an id) but fails, as on AWS
        _finish(run, "FAILED", str(exc))
        return
    for group in (JOB_OUTPUT_LOG_GROUP, JOB_ERROR_LOG_GROUP):
        _put_log_lines(run.job.backend, group, run.job_run_id, [])  # streams exist from the start
    run.status = "RUNNING"
    with _registry_lock:
        _active_runs.append(run)
    threading.Thread(target=_watch, args=(run,), name=f"glue-job-{run.job_run_id[:11]}", daemon=True).start()


def _watch(run: LocalJobRun) -> None:
    """Reap the process; enforce Timeout and BatchStopJobRun; ship its output to CloudWatch Logs."""
    proc = run.process
    deadline = run.started + run.timeout * SECONDS_PER_TIMEOUT_MINUTE if run.timeout else None
    final = None
    while True:
        try:
            proc.wait(timeout=JOB_POLL_SECONDS)
            break
        except subprocess.TimeoutExpired:
            pass
        _ship_job_logs(run)
        if run.stop_requested:
            final = ("STOPPED", None)
        elif deadline and time.monotonic() >= deadline:
            final = ("TIMEOUT", f"Job run timed out after {run.timeout} minute(s) (Timeout)")
        if final:
            _kill(proc)
            break
    _ship_job_logs(run, final=True)
    if final:
        _finish(run, *final)
    elif proc.returncode == 0:
        _finish(run, "SUCCEEDED", None)
    else:
        stderr = (run.run_dir / "stderr.log").read_text(errors="replace")
        _finish(run, "FAILED", error_message_from_stderr(stderr, proc.returncode))
    with _registry_lock:
        if run in _active_runs:
            _active_runs.remove(run)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the script's own children die with it
    except ProcessLookupError:
        pass
    proc.wait()


def _finish(run: LocalJobRun, state: str, error: str | None) -> None:
    run.execution_seconds = math.ceil(time.monotonic() - run.started)
    run.error_message = error
    run.completed_on = utcnow()
    run.status = state


def error_message_from_stderr(stderr: str, returncode: int) -> str:
    """The exception line of the script's last traceback (e.g. `ValueError: boom`), else the exit code."""
    lines = stderr.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if starts:
        for i in range(starts[-1] + 1, len(lines)):
            if lines[i] and not lines[i][0].isspace():
                return "\n".join(lines[i:]).strip()
    return f"Command failed with exit code {returncode}"


def _ship_job_logs(run: LocalJobRun, final: bool = False) -> None:
    for stream, group in (("stdout", JOB_OUTPUT_LOG_GROUP), ("stderr", JOB_ERROR_LOG_GROUP)):
        with open(run.run_dir / f"{stream}.log", "rb") as f:
            f.seek(run.log_offsets[stream])
            chunk = f.read()
        if not final:
            chunk = chunk[: chunk.rfind(b"\n") + 1]  # ship whole lines only while running
        if chunk:
            run.log_offsets[stream] += len(chunk)
            lines = chunk.decode(errors="replace").splitlines()
            _put_log_lines(run.job.backend, group, run.job_run_id, lines)


def _batch_stop_job_run(self: GlueBackend, job_name: str, run_ids: list[str]) -> tuple[list, list]:
    job = self.get_job(job_name)
    stopped, errors = [], []
    for run_id in run_ids:
        run = next((r for r in job.job_runs if r.job_run_id == run_id), None)
        if run is None:
            detail = {"ErrorCode": "EntityNotFoundException", "ErrorMessage": f"Job run {run_id} not found."}
        elif run.status not in ("STARTING", "RUNNING"):
            detail = {"ErrorCode": "InvalidInputException", "ErrorMessage": f"Job run is in state {run.status}"}
        else:
            run.stop_requested = True
            run.status = "STOPPING"
            stopped.append({"JobName": job_name, "JobRunId": run_id})
            continue
        errors.append({"JobName": job_name, "JobRunId": run_id, "ErrorDetail": detail})
    return stopped, errors


def _response_batch_stop_job_run(self: GlueResponse) -> Any:
    from moto.core.responses import ActionResult

    stopped, errors = self.glue_backend.batch_stop_job_run(self._get_param("JobName"), self._get_param("JobRunIds"))
    return ActionResult({"SuccessfulSubmissions": stopped, "Errors": errors})


# --------------------------------------------------------------------------------------------------
# CloudWatch Logs, install, shutdown
# --------------------------------------------------------------------------------------------------


def _put_log_lines(glue: GlueBackend, group: str, stream: str, lines: list[str]) -> None:
    from moto.logs.models import logs_backends

    logs = logs_backends[glue.account_id][glue.region_name]
    logs.ensure_log_group(group)
    if stream not in logs.groups[group].streams:
        logs.groups[group].create_log_stream(stream)
    now = int(time.time() * 1000)
    if lines:
        logs.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])


def _require_ctx() -> StackContext:
    if _ctx is None:
        raise RuntimeError("flightpipe.local.glue.install(ctx) has not been called")
    return _ctx


def install(ctx: StackContext) -> None:
    """Patch moto's Glue crawler and job models (idempotent; a second call only updates `ctx`)."""
    global _ctx
    _ctx = ctx
    (ctx.state_dir / "glue").mkdir(parents=True, exist_ok=True)
    FakeCrawler.start_crawler = _start_crawler
    FakeCrawler.stop_crawler = _stop_crawler
    FakeCrawler.as_dict = _crawler_as_dict
    FakeJob.start_job_run = _start_job_run
    GlueBackend.get_crawler_metrics = _get_crawler_metrics
    GlueBackend.batch_stop_job_run = _batch_stop_job_run
    GlueResponse.get_crawler_metrics = _response_get_crawler_metrics
    GlueResponse.batch_stop_job_run = _response_batch_stop_job_run
    GlueResponse.update_crawler = _response_update_crawler


def shutdown() -> None:
    """Kill running job processes (their runs end STOPPED) and wait briefly for crawl threads."""
    with _registry_lock:
        runs, threads = list(_active_runs), list(_crawl_threads)
    for run in runs:
        run.stop_requested = True
    for run in runs:
        if run.process and run.process.poll() is None:
            _kill(run.process)
    for thread in threads:
        thread.join(timeout=5)
