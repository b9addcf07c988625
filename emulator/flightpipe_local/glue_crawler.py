"""Glue crawlers that crawl, on the local stack.

`StartCrawler` crawls the crawler's S3 targets (read in-process from moto's S3) in a background thread and
writes tables and partitions into moto's Data Catalog as Glue's built-in CSV classifier would: one table per
target folder, Hive-style `date=…` folders as partitions, schema changes as new table versions. States go
RUNNING → STOPPING → READY, with `LastCrawl` and a crawl log in CloudWatch Logs (`/aws-glue/crawlers`).
A crawl stays RUNNING for a configurable least time (`FLIGHTPIPE_LOCAL_CRAWL_SECONDS`), as AWS's take minutes.
Also adds what moto lacks: `UpdateCrawler`, `GetCrawlerMetrics`.
"""

from __future__ import annotations

import csv
import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from moto.core.utils import utcnow
from moto.glue.exceptions import (
    CrawlerNotRunningException,
    CrawlerRunningException,
    GlueClientError,
)
from moto.glue.models import FakeCrawl, FakeCrawler, GlueBackend
from moto.glue.responses import GlueResponse
from moto.s3.models import FakeKey, s3_backends

from flightpipe_local import context, settings
from flightpipe_local.cloudwatch import put_log_lines
from flightpipe_local.context import StackContext
from flightpipe_local.glue_classifier import (
    CSV_INPUT_FORMAT,
    CSV_OUTPUT_FORMAT,
    LAZY_SIMPLE_SERDE,
    OPEN_CSV_SERDE,
    CsvSchema,
    classify_csv,
    glob_to_regex,
    is_excluded,
    merge_columns,
)
from flightpipe_local.patches import Patch

log = logging.getLogger("flightpipe_local.glue")

# A crawl stays RUNNING at least this long (env FLIGHTPIPE_LOCAL_CRAWL_SECONDS overrides it, read at each
# StartCrawler). On AWS a crawl takes a minute or more, so a state machine's "wait, GetCrawler, still
# RUNNING?" loop always turns. 1.5 s makes the daily state machine's loop turn once at its local
# PollSeconds of 1 (first GetCrawler ~1.0 s after the start sees RUNNING, the second ~2.0 s sees READY),
# with ~0.5 s of slack each side for a busy machine; every test that drives the chain pays it.
CRAWL_SECONDS_ENV = "FLIGHTPIPE_LOCAL_CRAWL_SECONDS"
DEFAULT_CRAWL_SECONDS = 1.5
# Pause in the STOPPING state after a crawl's work is done (Glue "finishes writing to the catalog"); env
# FLIGHTPIPE_LOCAL_CRAWL_STOPPING_SECONDS overrides it (read at each StartCrawler; the bench sets 0).
STOPPING_SECONDS = 0.05
STOPPING_SECONDS_ENV = "FLIGHTPIPE_LOCAL_CRAWL_STOPPING_SECONDS"
# After StopCrawler the crawler stays STOPPING at least this long: on AWS stopping a crawl takes a while, and
# a GetCrawler right after StopCrawler sees STOPPING (Crawler.State: READY | RUNNING | STOPPING).
STOP_REQUESTED_SECONDS = 0.5
# The classifier only reads the head of each object (Glue samples, it doesn't read whole files).
SAMPLE_BYTES = 1024 * 1024
CRAWLER_LOG_GROUP = "/aws-glue/crawlers"

_crawl_threads: list[tuple[StackContext, threading.Thread]] = []  # each crawl's thread, with the stack it works for
_registry_lock = threading.Lock()


class CrawlerStoppingException(GlueClientError):
    def __init__(self, msg: str):
        super().__init__("CrawlerStoppingException", msg)


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
        table_name = ((self.crawler.table_prefix or "") + (prefix.strip("/").rsplit("/", 1)[-1] or bucket_name)).lower()
        files = []  # (partition key names, partition values, folder, uri, schema, size) of every data file
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
            names = tuple(d.split("=", 1)[0] if "=" in d else f"partition_{i}" for i, d in enumerate(dirs))
            values = tuple(d.split("=", 1)[1] if "=" in d else d for d in dirs)
            location = f"s3://{bucket_name}/{prefix}" + "".join(d + "/" for d in dirs)
            files.append((names, values, location, uri, schema, key.size))
        if not files:
            self.log("INFO", f"No CSV data found under {path}")
            return
        key_names = self.partition_layout(table_name, [f[0] for f in files])
        folders: dict[tuple[str, ...], _Folder] = {}
        for names, values, location, uri, schema, size in files:
            if names != key_names:
                self.summary.files_skipped += 1
                self.log("WARN", f"Skipping {uri}: its folder layout differs from the table's {list(key_names)}")
                continue
            folder = folders.setdefault(values, _Folder(list(values), location))
            folder.schemas.append(schema)
            folder.size += size
        self.write_table(table_name, f"s3://{bucket_name}/{prefix}", list(key_names), folders)

    def partition_layout(self, table_name: str, layouts: list[tuple[str, ...]]) -> tuple[str, ...]:
        """The partition keys: an existing table keeps its own; a new one takes the layout most files share
        (Glue decides by the majority of folders), so one stray deeper key cannot reshape the table."""
        database = self.glue.databases.get(self.crawler.database_name)
        existing = database.tables.get(table_name) if database else None
        if existing is not None:
            return tuple(k["Name"] for k in existing.as_dict().get("PartitionKeys", []))
        counts = Counter(layouts)
        return max(counts, key=counts.get)

    def classify(self, uri: str, key: Any) -> CsvSchema | None:
        if key.size == 0:
            self.summary.files_skipped += 1
            self.log("WARN", f"Skipping empty object {uri}: classification UNKNOWN")
            return None
        head = _read_head(key, SAMPLE_BYTES)
        try:
            schema = classify_csv(head, truncated=key.size > len(head))
        except csv.Error as exc:
            # A file no classifier can read scores certainty 0.0: Glue gives it classification UNKNOWN and
            # the crawl goes on ("Defining and managing classifiers", AWS Glue developer guide). One such file
            # (e.g. CR-only line endings: one line with a carriage return inside) never fails the crawl.
            self.summary.files_skipped += 1
            self.log("WARN", f"Skipping {uri}: cannot be read as CSV ({exc}), classification UNKNOWN")
            return None
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
        self.minimum_seconds = 0.0
        self.stopping_seconds = STOPPING_SECONDS
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


def crawl_seconds() -> float:
    """The least time a crawl stays RUNNING: FLIGHTPIPE_LOCAL_CRAWL_SECONDS, or DEFAULT_CRAWL_SECONDS."""
    return settings.seconds(CRAWL_SECONDS_ENV, DEFAULT_CRAWL_SECONDS, "1.5")


def stopping_seconds() -> float:
    """How long a finished crawl stays STOPPING: FLIGHTPIPE_LOCAL_CRAWL_STOPPING_SECONDS, or STOPPING_SECONDS."""
    return settings.seconds(STOPPING_SECONDS_ENV, STOPPING_SECONDS, "0.05")


def _start_crawler(self: FakeCrawler) -> None:
    if self.crawls and not self.crawls[-1].finished:
        raise CrawlerRunningException(f"Crawler with name {self.name} has already started")
    try:
        minimum_seconds = crawl_seconds()
        crawl_stopping = stopping_seconds()
    except ValueError as exc:  # set after the stack started: refuse the call, start nothing
        raise GlueClientError("InvalidInputException", str(exc)) from None
    crawl = LocalCrawl(self.name)
    crawl.minimum_seconds = minimum_seconds
    crawl.stopping_seconds = crawl_stopping
    self.crawls.append(crawl)
    # the crawl works for the stack that received StartCrawler (its logs, its stop)
    thread = context.StackThread(target=_run_crawl, args=(self, crawl), name=f"crawl-{self.name}", daemon=True)
    with _registry_lock:
        _crawl_threads[:] = [(c, t) for c, t in _crawl_threads if t.is_alive()] + [(context.current(), thread)]
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
    if final != "STOPPED":  # a failing crawl takes its time too: on AWS it fails minutes, not moments, after start
        _run_for_the_crawl_time(crawl)
    if crawl.cancel_requested:
        final = "STOPPED"
    crawl.summary = run.summary
    crawl.status = "STOPPING"
    time.sleep(STOP_REQUESTED_SECONDS if final == "STOPPED" else crawl.stopping_seconds)
    crawl.elapsed_seconds = time.monotonic() - crawl.started
    crawl.end_time = utcnow()
    s = run.summary
    run.log(
        "INFO",
        f"Tables created: {s.tables_created}, tables updated: {s.tables_updated}, partitions created: "
        f"{s.partitions_created}, partitions updated: {s.partitions_updated}, files skipped: {s.files_skipped}",
    )
    run.log("BENCHMARK", "Crawler has finished running and is in state READY")
    put_log_lines(crawler.backend, CRAWLER_LOG_GROUP, crawler.name, run.lines)
    crawl.status = final


def _run_for_the_crawl_time(crawl: LocalCrawl) -> None:
    """Stay RUNNING until the crawl has taken its minimum time (StopCrawler ends the wait)."""
    while not crawl.cancel_requested:
        left = crawl.started + crawl.minimum_seconds - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


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
    "Role": "role",
    "DatabaseName": "database_name",
    "Description": "description",
    "Targets": "targets",
    "Schedule": "schedule",
    "Classifiers": "classifiers",
    "TablePrefix": "table_prefix",
    "SchemaChangePolicy": "schema_change_policy",
    "RecrawlPolicy": "recrawl_policy",
    "LineageConfiguration": "lineage_configuration",
    "Configuration": "configuration",
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


_moto_delete_crawler = GlueBackend.delete_crawler


def _delete_crawler(self: GlueBackend, name: str) -> None:
    """DeleteCrawler refuses a crawler that is crawling (AWS Glue API, "DeleteCrawler": CrawlerRunningException)."""
    crawler = self.crawlers.get(name)
    if crawler is not None and crawler.as_dict()["State"] != "READY":
        raise CrawlerRunningException(f"Crawler with name {name} is {crawler.as_dict()['State']}: stop it first.")
    _moto_delete_crawler(self, name)


def patches() -> list[Patch]:
    """Everything this module changes in moto (applied and reverted by `flightpipe_local.patches`)."""
    return [
        Patch(GlueBackend, "delete_crawler", _delete_crawler),
        Patch(FakeCrawler, "start_crawler", _start_crawler),
        Patch(FakeCrawler, "stop_crawler", _stop_crawler),
        Patch(FakeCrawler, "as_dict", _crawler_as_dict),
        Patch.new(GlueBackend, "get_crawler_metrics", _get_crawler_metrics),
        Patch.new(GlueResponse, "get_crawler_metrics", _response_get_crawler_metrics),
        Patch.new(GlueResponse, "update_crawler", _response_update_crawler),
    ]


def shutdown(ctx: StackContext) -> None:
    """Wait briefly for the stack's crawl threads."""
    with _registry_lock:
        threads = [thread for owner, thread in _crawl_threads if owner is ctx]
    for thread in threads:
        thread.join(timeout=5)
