"""Reading one daily file: its header's column order, its lines counted, its rows in blocks with their line numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from flightpipe_job.errors import BadFile

COLUMNS = ("Carrier", "OriginAirportID", "DestAirportID", "DepDelay", "ArrDelay")


HEADER_PEEK_BYTES = 64 * 1024
CSV_BLOCK_BYTES = 8 * 1024 * 1024  # rows are parsed, validated and staged one block at a time


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


# What the reader gets in place of a line that is too long: one field, so pyarrow reports it as malformed.
LONG_LINE = b"-\n"


class LineCounter(io.RawIOBase):
    """Passes a file's bytes on to the CSV reader while counting the file's own physical lines: each `\\n`
    ends a line (a `\\r` before it is part of the line ending) and bytes after the last `\\n` are one more
    line; so a file ending in `\\n` has no empty last line, and every other empty line counts.

    pyarrow parses a line only within one read block, so a line longer than `max_line` bytes would fail the
    whole file: such a line is passed on as LONG_LINE instead, and its number and first bytes are kept
    in `long_lines`, to be rejected. The file is read once, `max_line` bytes at a time."""

    def __init__(self, raw, max_line: int):
        self.raw, self.max_line = raw, max_line
        self.complete = 0  # lines ended by a `\n` so far
        self.lines = 0  # the file's physical lines, known once the reader reached its end
        self.pending = b""  # bytes after the last `\n`, not passed on yet
        self.dropping = False  # inside a line that is too long
        self.long_lines: dict[int, bytes] = {}
        self.out, self.out_pos = memoryview(b""), 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # The buffer is filled whole (short only at the end of the file), as a plain file's would be: pyarrow
        # drops the `\n` of a `\r\n` split between two reads, and a read left empty by that ends the file
        # early, without an error (pyarrow 7.0.0 and 25.0.1, measured; the dropping is CSVBufferIterator's,
        # apache/arrow#51368).
        view, filled = memoryview(buffer).cast("B"), 0
        while filled < len(view):
            if self.out_pos >= len(self.out):
                if self.eof:
                    break
                self.out, self.out_pos = memoryview(self._next_lines()), 0
                continue
            n = min(len(view) - filled, len(self.out) - self.out_pos)
            view[filled:filled + n] = self.out[self.out_pos:self.out_pos + n]
            self.out_pos, filled = self.out_pos + n, filled + n
        return filled

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
        self.complete += data.count(b"\n", 0, end)
        self.pending = data[end:]
        return b"".join(parts)


class RecordNumbers:
    """Line numbers (header = 1) of the rows pyarrow yields. Quotes are not interpreted by pyarrow, so each
    line is one row; pyarrow skips malformed rows after telling the handler their number, so the yielded
    rows are the lines not skipped, in order."""

    def __init__(self) -> None:
        self.skipped: list[int] = []
        self.next_number = 2

    def take(self, n: int) -> np.ndarray:
        start = self.next_number
        skipped = np.asarray([s for s in self.skipped if s >= start], dtype=np.int64)
        end = start + n
        while True:
            extra = int(((skipped >= start) & (skipped < end)).sum())
            if end == start + n + extra:
                break
            end = start + n + extra
        if end == start + n:  # nothing skipped in this block (the usual case): no set difference to take
            numbers = np.arange(start, end, dtype=np.int64)
        else:
            numbers = np.setdiff1d(np.arange(start, end, dtype=np.int64), skipped, assume_unique=True)
        self.skipped = [s for s in self.skipped if s >= end]
        self.next_number = end
        return numbers


# Fields are read dictionary-encoded: a day has few distinct carriers, airports and delays, so every check
# runs once per distinct text and reaches the rows through the dictionary's indices.
FIELD_TYPE = pa.dictionary(pa.int32(), pa.string())


def read_csv_blocks(
    stream, order: list[int], on_malformed: Callable[[int, str, int], None]
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Stream a daily file as tables of the five columns (all text, dictionary-encoded, file order fixed)
    with their line numbers. The header row is skipped (already checked by column_order).

    pyarrow reads with quoting off (`quote_char=False`, pyarrow.csv.ParseOptions): with quoting on, a quote
    that is never closed makes the rest of the block one field, whatever `newlines_in_values` says (pyarrow
    7.0.0, measured; Redshift's COPY ... CSV likewise lets a quoted field hold line breaks, "Data format
    parameters"). No field of a daily file can hold a line break, so each line is one row: quotes stay in
    the text, validate_block unquotes fields and finds unbalanced quotes, and scan_file splits the few lines
    whose quoted fields hold commas with Python's csv module."""
    numbers = RecordNumbers()

    def malformed(row) -> str:
        numbers.skipped.append(row.number)
        on_malformed(row.number, row.text, row.actual_columns)
        return "skip"

    raw_names = [f"field{i}" for i in range(len(COLUMNS))]
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            column_names=raw_names, skip_rows=1, block_size=CSV_BLOCK_BYTES, use_threads=False
        ),
        parse_options=pacsv.ParseOptions(
            quote_char=False, newlines_in_values=False, ignore_empty_lines=False, invalid_row_handler=malformed
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: FIELD_TYPE for n in raw_names}, strings_can_be_null=False,
        ),
    )
    for batch in reader:
        table = pa.Table.from_batches([batch]).select([raw_names[i] for i in order]).rename_columns(list(COLUMNS))
        yield table, numbers.take(batch.num_rows)
