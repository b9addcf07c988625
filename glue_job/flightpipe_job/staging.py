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

    def readinto(self, buffer) -> int:
        if self.head.nbytes:
            n = min(len(buffer), self.head.nbytes)
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


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
        table = pa.table(
            {
                "flight_date": pa.array(day).view(pa.date32()),
                "load_id": pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), [load_id]),
                **{name: valid[name] for name in valid.column_names},
            }
        ).select(FLIGHTS_STAGE_SCHEMA.names).cast(FLIGHTS_STAGE_SCHEMA)
        day_tables.append(table)
        staged[0] += rows
        staged[1] += rows
        if staged[1] >= PART_ROWS:
            own_keys.append(staging.write(day_tables))
            day_tables.clear()
            staged[1] = 0

    with tempfile.NamedTemporaryFile("w+", suffix=".csv", encoding="utf-8", newline="") as rejects_file:
        wrote_header = [False]

        def keep_rejects(rejected: pd.DataFrame) -> None:
            rejected.to_csv(rejects_file, header=not wrote_header[0], index=False, **CSV_LINE_END)
            wrote_header[0] = True

        try:
            counts = scan_file(Rejoined(head, body), order, airport_ids, args.min_dep_delay, put_part,
                               keep_rejects, obj.uri, args.multiline_quotes)
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
            rejects_file.flush()
            key = f"{args.rejects_prefix}date={obj.day.isoformat()}/{args.run_id}.csv"
            s3.upload_file(rejects_file.name, args.raw_bucket, key)
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


def open_ahead(s3, objects: list[SourceObject], pool: ThreadPoolExecutor) -> Iterator[Callable[[], dict]]:
    """For each object in turn, a function returning its get_object response; the next object's GET is sent
    while the current one is read, so a run of many days does not wait for each GET's round trip. Only one
    response is open ahead (its body is read as a stream: memory stays bounded); an empty object is never
    requested (stage_day refuses it unread); a failed GET raises where stage_day reads it."""

    def request(obj: SourceObject) -> Future | None:
        return pool.submit(s3.get_object, **obj.get_kwargs()) if obj.size else None

    ahead = request(objects[0]) if objects else None
    for number, obj in enumerate(objects):
        current = ahead
        ahead = request(objects[number + 1]) if number + 1 < len(objects) else None
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
