"""One day: validated, its valid rows staged as Parquet for COPY, its rejects kept as CSV."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flightpipe_job.errors import BadFile
from flightpipe_job.reading import HEADER_PEEK_BYTES, column_order
from flightpipe_job.sources import SourceObject
from flightpipe_job.validation import Counts, scan_file


def pandas_version() -> tuple[int, int]:
    major, minor = pd.__version__.split(".")[:2]
    return int(major), int(minor)


# pandas 1.5 renamed to_csv's line_terminator to lineterminator; Glue's Python shell 3.9 ships pandas 1.4.2,
# which knows only the old name, and pandas 2 only the new one.
CSV_LINE_END = {"lineterminator": "\n"} if pandas_version() >= (1, 5) else {"line_terminator": "\n"}

# Staged rows per Parquet file: the rows of many small days share a file (one PUT, one file for COPY to
# read); a big day is cut into files of this many rows so that the job's memory stays bounded.
PART_ROWS = 1_000_000
EPOCH = dt.date(1970, 1, 1)


FLIGHTS_STAGE_SCHEMA = pa.schema(
    [
        ("flight_date", pa.date32()),
        ("load_id", pa.string()),
        ("source_line", pa.int32()),
        ("carrier", pa.string()),
        ("origin_airport_id", pa.int64()),
        ("dest_airport_id", pa.int64()),
        ("dep_delay", pa.int64()),
        ("arr_delay", pa.int64()),
    ]
)


class Staging:
    """The Parquet files of one job run under `<staging_prefix><job run id>/flights/`."""

    def __init__(self, s3, bucket: str, prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.keys: list[str] = []  # files written and kept
        self.written = 0
        self.pending: list[pa.Table] = []  # rows of finished days, not yet written
        self.pending_rows = 0

    def write(self, tables: list[pa.Table]) -> str:
        table = pa.concat_tables(tables) if tables else FLIGHTS_STAGE_SCHEMA.empty_table()
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        key = f"{self.prefix}part-{self.written:05d}.parquet"
        self.written += 1
        self.keys.append(key)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=buffer.getvalue())
        return key

    def add(self, tables: list[pa.Table]) -> None:
        """Rows of a day that staged without error; written once enough have gathered."""
        self.pending += tables
        self.pending_rows += sum(t.num_rows for t in tables)
        if self.pending_rows >= PART_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.write(self.pending)
        self.pending, self.pending_rows = [], 0

    def discard(self, keys: list[str]) -> None:
        """Delete files of a day that failed after all."""
        delete_keys(self.s3, self.bucket, keys)
        self.keys = [k for k in self.keys if k not in keys]

    def finish(self) -> None:
        """Write what is pending; an empty file keeps COPY's prefix non-empty when no row passed."""
        self.flush()
        if not self.keys:
            self.write([])


@dataclasses.dataclass
class StagedDay:
    obj: SourceObject
    load_id: str
    counts: Counts
    rejects_location: str | None
    rows_staged: int  # valid rows at or above the threshold: the ones the load can insert


class Rejoined(io.RawIOBase):
    """A stream that yields `head` (bytes already read from `rest`) and then the remainder of `rest`."""

    def __init__(self, head: bytes, rest):
        self.head, self.rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes; RawIOBase's own read would first allocate (and zero) a buffer of `size` bytes,
        ~0.2 ms for the reader's 8 MB on every call, whatever the file holds."""
        if not self.head.nbytes:
            return self.rest.read() if size is None or size < 0 else self.rest.read(size)
        n = self.head.nbytes if size is None or size < 0 else min(size, self.head.nbytes)
        data, self.head = bytes(self.head[:n]), self.head[n:]
        return data

    def readinto(self, buffer) -> int:
        if self.head.nbytes:
            n = min(len(buffer), self.head.nbytes)
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class RejectsFile:
    """A day's rejects CSV, in a temporary file created at its first rejected row: most days have none."""

    def __init__(self) -> None:
        self.file = None

    def write(self, rejected: pd.DataFrame) -> None:
        header = self.file is None
        if header:
            self.file = tempfile.NamedTemporaryFile("w+", suffix=".csv", encoding="utf-8", newline="")
        rejected.to_csv(self.file, header=header, index=False, **CSV_LINE_END)

    def written(self) -> str:
        """The file's name, everything written flushed to it."""
        self.file.flush()
        return self.file.name

    def __enter__(self) -> RejectsFile:
        return self

    def __exit__(self, *exc) -> None:
        if self.file is not None:
            self.file.close()


def stage_day(
    s3, args: argparse.Namespace, obj: SourceObject, load_id: str, airport_ids: pa.Array, staging: Staging,
    opened: Callable[[], dict] | None = None,
) -> StagedDay:
    """Validate one object version; stage its valid rows that pass the threshold as Parquet (the load
    applies the same threshold again) and upload its rejects CSV. `opened()`, when given, returns the
    object's get_object response (requested ahead, see `open_ahead`)."""
    if obj.size == 0:
        raise BadFile(f"{obj.uri}: the file is empty (0 bytes)")
    response = opened() if opened else s3.get_object(**obj.get_kwargs())
    body = response["Body"]  # one read: the header check peeks at its first bytes
    head = body.read(HEADER_PEEK_BYTES)
    order = column_order(head, obj.uri)
    day_tables: list[pa.Table] = []
    own_keys: list[str] = []  # files holding only this day's rows (a big day): deleted if the day fails
    staged = [0, 0]  # rows staged, rows not yet written

    def put_part(valid: pa.Table) -> None:
        passes = pc.fill_null(pc.greater_equal(valid["dep_delay"], args.min_dep_delay), False)
        valid = valid.filter(passes)
        rows = valid.num_rows
        if not rows:
            return
        day = np.full(rows, (obj.day - EPOCH).days, dtype=np.int32)
        # validate_block's columns have the staged types already: no select or cast per day.
        table = pa.Table.from_arrays(
            [pa.array(day).view(pa.date32()), pa.repeat(pa.scalar(load_id, pa.string()), rows),
             *(valid[name] for name in FLIGHTS_STAGE_SCHEMA.names[2:])],
            schema=FLIGHTS_STAGE_SCHEMA)
        day_tables.append(table)
        staged[0] += rows
        staged[1] += rows
        if staged[1] >= PART_ROWS:
            own_keys.append(staging.write(day_tables))
            day_tables.clear()
            staged[1] = 0

    with RejectsFile() as rejects_file:
        try:
            counts = scan_file(Rejoined(head, body), order, airport_ids, args.min_dep_delay, put_part,
                               rejects_file.write, obj.uri, args.multiline_quotes)
        except pa.ArrowInvalid as exc:
            staging.discard(own_keys)
            raise BadFile(f"{obj.uri}: not a readable UTF-8 CSV file: {str(exc).splitlines()[0]}") from None
        except BaseException:
            staging.discard(own_keys)
            raise
        if counts.rows_read == counts.rows_blank:
            staging.discard(own_keys)
            raise BadFile(f"{obj.uri}: the file has a header but no data rows")
        rejects_location = None
        if counts.rows_rejected:
            key = f"{args.rejects_prefix}date={obj.day.isoformat()}/{args.run_id}.csv"
            s3.upload_file(rejects_file.written(), args.raw_bucket, key)
            rejects_location = f"s3://{args.raw_bucket}/{key}"
        share = counts.rows_rejected / counts.rows_read
        if share > args.max_reject_share:
            staging.discard(own_keys)
            raise BadFile(
                f"{obj.uri}: {counts.rows_rejected} of {counts.rows_read} data lines rejected ({share:.1%}), more "
                f"than --max_reject_share {args.max_reject_share:g}: the day is not loaded; rejects in "
                f"{rejects_location}")
    staging.add(day_tables)
    return StagedDay(obj, load_id, counts, rejects_location, staged[0])


# GETs sent ahead of the day being read: a run of many small days keeps a few requests going while one day is
# validated; the objects requested ahead hold at most AHEAD_BYTES together, or are one object. The pool's
# threads share the job's S3 client: boto3's low-level clients are thread safe (boto3 guide, "Low-level
# clients", Multithreading or multiprocessing with clients), and AHEAD_GETS responses open at once stay within
# the client's pool of 10 connections (botocore Config reference, max_pool_connections). 4 ahead measured
# twice as fast as 1 on the local stack's S3 for 365 small days, 8 no faster than 4.
AHEAD_GETS = 4
AHEAD_BYTES = 64 * 1024 * 1024


def open_ahead(s3, objects: list[SourceObject], pool: ThreadPoolExecutor, max_gets: int = AHEAD_GETS,
               max_bytes: int = AHEAD_BYTES) -> Iterator[Callable[[], dict]]:
    """For each object in turn, a function returning its get_object response. The GETs of the next objects
    are sent while the current one is read, so a run of many days does not wait for each GET's round trip:
    up to `max_gets` ahead (pool threads send them), as long as the objects requested ahead hold at most
    `max_bytes` together (one is always requested, whatever its size). Each body is read as a stream where
    its day is read, so memory stays bounded. An empty object is never requested (stage_day refuses it
    unread); a failed GET raises where stage_day reads it."""
    ahead: dict[int, Future] = {}
    held = [0, 0]  # bytes of the objects requested ahead of the current one; the next object to consider

    def send_more(current: int) -> None:
        while held[1] < len(objects) and held[1] - current <= max_gets:
            number, obj = held[1], objects[held[1]]
            if number > current and held[0] and held[0] + obj.size > max_bytes:
                return
            if obj.size:
                ahead[number] = pool.submit(s3.get_object, **obj.get_kwargs())
                held[0] += obj.size if number > current else 0
            held[1] += 1

    for number, obj in enumerate(objects):
        if number in ahead:
            held[0] -= obj.size  # no longer ahead: being read
        send_more(number)
        current = ahead.pop(number, None)
        if current is not None:
            yield lambda current=current: current.result()
        else:
            yield lambda obj=obj: s3.get_object(**obj.get_kwargs())
        if current is not None and current.done() and current.exception() is None:
            current.result()["Body"].close()  # read by now; closing an unread one (a failed day) frees it


def delete_keys(s3, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        chunk = [{"Key": k} for k in keys[start:start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})


def delete_prefix(s3, bucket: str, prefix: str) -> None:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    delete_keys(s3, bucket, keys)
