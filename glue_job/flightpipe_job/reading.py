"""Reading one daily file: its header's column order, its lines counted, its rows in blocks with their line numbers."""

from __future__ import annotations

import csv
import itertools
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from flightpipe_job.errors import BadFile

COLUMNS = ("Carrier", "OriginAirportID", "DestAirportID", "DepDelay", "ArrDelay")


HEADER_PEEK_BYTES = 64 * 1024
CSV_BLOCK_BYTES = 8 * 1024 * 1024  # the file is read this many bytes at a time: the longest line it takes
PARSE_BLOCK_BYTES = 2 * 1024 * 1024  # rows are parsed, validated and staged in blocks of about this size


def column_order(head: bytes, uri: str) -> list[int]:
    """Position in the file of each of COLUMNS, from the first bytes of the file; BadFile if unusable.
    The header must hold exactly the five names, in any order, case and surrounding spaces ignored."""
    if not head:
        raise BadFile(f"{uri}: the file is empty (0 bytes)")
    head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    end = head.find(b"\n")
    if end < 0 and b"\r" in head:
        # CR-only line endings (classic Mac OS): the warehouse's loader (COPY) and this job's line numbers end
        # a row at a line feed, so the file is refused whole, saying how to fix it.
        raise BadFile(f"{uri}: its lines end with a carriage return only (CR): save it with LF or CRLF line "
                      "endings and upload it again")
    if end < 0 and len(head) >= HEADER_PEEK_BYTES:
        raise BadFile(f"{uri}: not a CSV file: no line break in the first {HEADER_PEEK_BYTES} bytes")
    line = head[: end if end >= 0 else len(head)].rstrip(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise BadFile(f"{uri}: not a CSV file: the header line is not UTF-8 text") from None
    if "\x00" in text:
        raise BadFile(f"{uri}: not a CSV file: the header line holds NUL bytes")
    names = [n.strip().strip('"').strip().lower() for n in next(csv.reader([text]), [])]
    wanted = [c.lower() for c in COLUMNS]
    missing = [c for c, w in zip(COLUMNS, wanted) if w not in names]
    unexpected = [n for n in names if n not in wanted]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if missing or unexpected or repeated:
        parts = [f"missing {missing}" if missing else "", f"unexpected {unexpected}" if unexpected else "",
                 f"repeated {repeated}" if repeated else ""]
        raise BadFile(
            f"{uri}: the header must be exactly {','.join(COLUMNS)} (any order): "
            + "; ".join(p for p in parts if p) + f" (header was {text[:200]!r})"
        )
    return [names.index(w) for w in wanted]


def newlines(data: bytes, start: int, end: int) -> int:
    """The line feeds in data[start:end]. numpy counts them about five times as fast as `bytes.count` (1 ms
    against 4.8 ms for 8 MB on Glue's runtime, measured), and a day's bytes are counted twice: as lines of
    the file and as lines of each block."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8, end - start, start) == 10))


# What the reader gets in place of a line that is too long: one field, so pyarrow reports it as malformed.
LONG_LINE = b"-\n"


class LineCounter:
    """Cuts a file (a binary stream) into blocks of whole lines for the CSV parser while counting the file's own
    physical lines: each `\\n` ends a line (a `\\r` before it is part of the line ending) and bytes after the
    last `\\n` are one more line; so a file ending in `\\n` has no empty last line, and every other empty line
    counts.

    A line longer than `max_line` bytes is passed on as LONG_LINE instead (a block would have to hold it
    whole), and its number and first bytes are kept in `long_lines`, to be rejected. The file is read once,
    `max_line` bytes at a time."""

    def __init__(self, raw, max_line: int):
        self.raw, self.max_line = raw, max_line
        self.complete = 0  # lines ended by a `\n` so far
        self.lines = 0  # the file's physical lines, known once the reader reached its end
        self.pending = b""  # bytes after the last `\n`, not passed on yet
        self.dropping = False  # inside a line that is too long
        self.long_lines: dict[int, bytes] = {}
        self.eof = False

    def blocks(self) -> Iterator[tuple[int, memoryview]]:
        """The file's lines as blocks of whole lines of about PARSE_BLOCK_BYTES (a longer line is a block of
        its own), each with the number of its first line (header = 1)."""
        while not self.eof:
            first = self.complete + 1
            lines = self._next_lines()
            start = 0
            while start < len(lines):
                end = lines.find(b"\n", start + PARSE_BLOCK_BYTES - 1) + 1 or len(lines)
                yield first, memoryview(lines)[start:end]
                first += newlines(lines, start, end)
                start = end

    def _next_lines(self) -> bytes:
        """The next whole lines read from the file (everything left at its end)."""
        chunk = self.raw.read(self.max_line)
        if not chunk:
            self.eof = True
            self.lines = self.complete + (1 if self.pending or self.dropping else 0)
            out = LONG_LINE if self.dropping else self.pending
            self.pending, self.dropping = b"", False
            return out
        parts = []
        if self.dropping:
            end = chunk.find(b"\n")
            if end < 0:
                return b""
            parts.append(LONG_LINE)
            self.complete += 1
            chunk, self.dropping = chunk[end + 1:], False
        data = self.pending + chunk
        first = data.find(b"\n")
        if (first if first >= 0 else len(data)) > self.max_line:  # only the first line can be this long
            self.long_lines[self.complete + 1] = data[:200]
            if first >= 0:
                parts.append(LONG_LINE)
                self.complete += 1
                data = data[first + 1:]
            else:
                data, self.dropping = b"", True
        end = data.rfind(b"\n") + 1
        parts.append(data[:end])
        self.complete += newlines(data, 0, end)
        self.pending = data[end:]
        return b"".join(parts)


def row_numbers(start: int, rows: int, skipped: list[int]) -> np.ndarray:
    """Line numbers of the `rows` rows pyarrow yielded from a block whose first row is line `start`. Quotes are
    not interpreted by pyarrow, so each line is one row; pyarrow skips malformed rows after telling the
    handler their number (`skipped`), so the yielded rows are the block's other lines, in order."""
    numbers = np.arange(start, start + rows + len(skipped), dtype=np.int64)
    return np.setdiff1d(numbers, skipped, assume_unique=True) if skipped else numbers


# Fields are read dictionary-encoded: a day has few distinct carriers, airports and delays, so every check
# runs once per distinct text and reaches the rows through the dictionary's indices.
FIELD_TYPE = pa.dictionary(pa.int32(), pa.string())


# Blocks parsed at once by worker threads (pyarrow parses without holding the GIL) while the job validates
# the block before them; each block is parsed on its own, so its line numbers are exact. One more thread
# reads the file and cuts it into blocks ahead of them.
PARSE_THREADS = 2


def available_cpus() -> int:
    """The CPUs this process may run on. A Python shell job has 0.0625 DPU (this project's, and Glue's default)
    or 1 DPU, and a DPU is 4 vCPUs and 16 GB (Glue API, Job structure, MaxCapacity): on 0.0625 DPU it has one."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def read_csv_blocks(
    counter: LineCounter, order: list[int], on_malformed: Callable[[int, str, int], None]
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Stream a daily file (cut into blocks by `counter`) as tables of the five columns (all text,
    dictionary-encoded, file order fixed) with their line numbers. The header row is skipped (already
    checked by column_order). `on_malformed(number, text, fields)` is told of each row pyarrow skips, in
    line order, before the block holding it is yielded. At most PARSE_THREADS blocks wait, parsed or
    being parsed, so memory stays bounded whatever the file's size.

    pyarrow reads with quoting off (`quote_char=False`, pyarrow.csv.ParseOptions): with quoting on, a quote
    that is never closed makes the rest of the block one field, whatever `newlines_in_values` says (pyarrow
    7.0.0, measured; Redshift's COPY ... CSV likewise lets a quoted field hold line breaks, "Data format
    parameters"). No field of a daily file can hold a line break, so each line is one row: quotes stay in
    the text, validate_block unquotes fields and finds unbalanced quotes, and scan_file splits the few lines
    whose quoted fields hold commas with Python's csv module."""
    blocks = counter.blocks()
    opening = list(itertools.islice(blocks, 2))
    # A file read in one or two blocks (most days) or a process on one CPU: no thread would pay off.
    if counter.eof or available_cpus() < 2:
        for first, block in itertools.chain(opening, blocks):
            yield taken(parse_block(first, block), order, on_malformed)
        return

    parsing: queue.Queue = queue.Queue(maxsize=PARSE_THREADS)  # parse futures in line order, then None
    stopped = threading.Event()  # the reader stops: the caller stopped reading (an error, a refused file)

    def offer(item: Future | None) -> bool:
        """Queue `item` once there is room; False once the caller stopped reading."""
        while not stopped.is_set():
            try:
                parsing.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read_ahead() -> None:
        try:
            for first, block in itertools.chain(opening, blocks):
                if not offer(pool.submit(parse_block, first, block)):
                    return
        finally:
            offer(None)

    with ThreadPoolExecutor(max_workers=PARSE_THREADS + 1, thread_name_prefix="csv") as pool:
        reader = pool.submit(read_ahead)
        try:
            while (parsed := parsing.get()) is not None:
                yield taken(parsed.result(), order, on_malformed)
            reader.result()  # a failed read (S3, the network) is raised here
        finally:
            stopped.set()


RAW_NAMES = [f"field{i}" for i in range(len(COLUMNS))]


def parse_block(first: int, block: memoryview) -> tuple[pa.Table, np.ndarray, list[tuple[int, str, int]]]:
    """One block of whole lines, its first line numbered `first` (1: the block starts with the header):
    (its rows as a table of RAW_NAMES, their line numbers, the malformed rows pyarrow skipped)."""
    skipped: list[tuple[int, str, int]] = []

    def malformed(row) -> str:
        skipped.append((first - 1 + row.number, row.text, row.actual_columns))  # row.number: 1 = block's first line
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(block)),
        read_options=pacsv.ReadOptions(
            column_names=RAW_NAMES, skip_rows=1 if first == 1 else 0, block_size=len(block) + 1, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            quote_char=False, newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=malformed
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: FIELD_TYPE for n in RAW_NAMES}, strings_can_be_null=False,
        ),
    )
    start = first + 1 if first == 1 else first
    return table, row_numbers(start, table.num_rows, [number for number, _, _ in skipped]), skipped


def taken(parsed: tuple[pa.Table, np.ndarray, list[tuple[int, str, int]]], order: list[int],
          on_malformed: Callable[[int, str, int], None]) -> tuple[pa.Table, np.ndarray]:
    """A parsed block's table in COLUMNS order and its line numbers, its malformed rows told first."""
    table, numbers, skipped = parsed
    for row in skipped:
        on_malformed(*row)
    return table.select([RAW_NAMES[i] for i in order]).rename_columns(list(COLUMNS)), numbers
