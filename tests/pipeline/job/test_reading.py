"""The job's reading of a daily file: the header's column order, the file's own line count, line numbers across
blocks, lines too long for a block.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import io
import threading

import numpy as np
import pyarrow as pa
import pytest
from job_inputs import AIRPORT_IDS, HEADER, scan

from flightpipe_job import reading
from flightpipe_job.errors import BadFile, UnterminatedQuote
from flightpipe_job.reading import HEADER_PEEK_BYTES, column_order
from flightpipe_job.validation import scan_file


def test_reordered_header_with_bom_case_spaces_and_crlf_is_accepted():
    data = b'\xef\xbb\xbf ArrDelay ,"depdelay",CARRIER,OriginAirportID,DestAirportID\r\n5,61,AA,10397,12478\r\n'
    counts, valid, rejected = scan(data)
    assert counts.rows_read == 1 and rejected.empty
    row = valid.iloc[0]
    assert (row.carrier, row.origin_airport_id, row.dest_airport_id, row.dep_delay, row.arr_delay) == (
        "AA", 10397, 12478, 61, 5)


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"Carrier,OriginAirportID,DestAirportID,DepDelay\n", "missing ['ArrDelay']"),
        (b"Carrier,Origin,DestAirportID,DepDelay,ArrDelay\n", "unexpected ['origin']"),
        (HEADER + b",Tail\n", "unexpected ['tail']"),
        (HEADER + b",carrier\n", "repeated ['carrier']"),
        (b"\x1f\x8b\x08\x00\xff\xfe binary", "not UTF-8"),
        (b"x" * 70000, "no line break"),
    ],
)
def test_unusable_headers_fail_naming_the_object(data, words):
    with pytest.raises(BadFile) as failure:
        column_order(data[: HEADER_PEEK_BYTES], "s3://bucket/raw/date=2013-01-01/flights.csv?versionId=v1")
    assert "s3://bucket/raw/date=2013-01-01/flights.csv?versionId=v1" in str(failure.value)
    assert words in str(failure.value)


@pytest.mark.parametrize(
    "tail, data_lines",
    [
        (b"AA,10397,12478,61,5\nUA,10397,12478,70,1\n", 2),  # the last line break ends the last line
        (b"AA,10397,12478,61,5\nUA,10397,12478,70,1", 2),  # a last line without one still counts
        (b"AA,10397,12478,61,5\r\nUA,10397,12478,70,1\r\n", 2),
        (b"AA,10397,12478,61,5\nUA,10397,12478,70,1\n\n", 3),  # an empty line after it is a (blank) line
        (b"AA,10397,12478,61,5\n\n\nUA,10397,12478,70,1\n \n", 5),
    ],
)
def test_rows_read_is_the_files_own_line_count(tail, data_lines):
    data = b"\xef\xbb\xbf" + HEADER + b"\n" + tail
    assert data.count(b"\n") + (not data.endswith(b"\n")) - 1 == data_lines  # the count, by hand
    counts, valid, rejected = scan(data)
    assert counts.rows_read == data_lines and valid.source_line.tolist()[0] == 2 and rejected.empty
    assert counts.rows_read == counts.rows_valid + counts.rows_rejected + counts.rows_blank
    assert counts.rows_filtered == data_lines - 2  # the blank lines: both rows pass the threshold


def test_a_line_longer_than_the_read_block_is_rejected_and_the_rest_loads(monkeypatch):
    monkeypatch.setattr(reading, "CSV_BLOCK_BYTES", 4096)
    fits = b"AA,10397,12478,61," + b" " * (4096 - 19) + b"5"  # exactly 4096 bytes: still a line
    assert len(fits) == 4096
    lines = [HEADER, b"AA,10397,12478,61,5", b"AA,10397,12478,61,5" + b"9" * 10000, fits,
             b"UA,10397,12478,70,1", b"AA," + b"x" * 9000]  # the last one without a line break
    counts, valid, rejected = scan(b"\n".join(lines))
    assert valid.source_line.tolist() == [2, 4, 5]
    got = dict(zip(rejected.source_line.astype(int), rejected.reason))  # noqa: B905 - runs on Python 3.9 too
    assert got == {3: "line 3 is longer than 4096 bytes", 6: "line 6 is longer than 4096 bytes"}
    assert counts.rows_read == 5
    assert rejected.set_index("source_line").loc[3, "raw_record"].startswith("AA,10397,12478,61,5999")


def test_a_lone_carriage_return_fails_the_file_instead_of_miscounting():
    with pytest.raises(BadFile, match="lone"):
        scan(HEADER + b"\nAA,10397,12478,61,5\rUA,10397,12478,70,1\n")


# Blocks parsed as the file is read (one per read), blocks cut smaller than a read and parsed side by side,
# and the same on one CPU, where the job parses them one after the other on its own thread.
PARSE_BLOCKS = pytest.mark.parametrize("parse_block, cpus", [(None, None), (1000, None), (1000, 1)],
                                       ids=["read-blocks", "smaller-blocks", "smaller-blocks-one-cpu"])


@PARSE_BLOCKS
def test_line_numbers_stay_right_across_many_blocks(monkeypatch, parse_block, cpus):
    monkeypatch.setattr(reading, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(reading, "PARSE_BLOCK_BYTES", parse_block or reading.PARSE_BLOCK_BYTES)
    if cpus:
        monkeypatch.setattr(reading, "available_cpus", lambda: cpus)
    lines, bad = [HEADER], set()
    for i in range(2, 20000):
        if i % 997 == 0:
            lines.append(b"AA,10397")  # malformed: skipped by the parser itself
            bad.add(i)
        elif i % 1009 == 0:
            lines.append(b"AA,10397,12478,late,5")  # rejected by validation
            bad.add(i)
        else:
            lines.append(b"AA,10397,12478,%d,5" % (i % 200))
    counts, valid, rejected = scan(b"\n".join(lines) + b"\n")
    assert sorted(rejected.source_line.astype(int)) == sorted(bad)
    numbers = valid.source_line.to_numpy()
    assert numbers.tolist() == [i for i in range(2, 20000) if i not in bad]
    # Each valid row's delay is the one written on its line.
    assert (valid.dep_delay.to_numpy() == numbers % 200).all()


@PARSE_BLOCKS
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_line_numbers_stay_right_with_malformed_blank_and_long_lines_in_several_blocks(monkeypatch, newline,
                                                                                     parse_block, cpus):
    # Blocks of 4 KiB, no line break after the last line: the parser's skipped rows (malformed, whitespace-only)
    # keep their numbers, and so do the rows after them. With CRLF, some reads end between `\r` and `\n`.
    monkeypatch.setattr(reading, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(reading, "PARSE_BLOCK_BYTES", parse_block or reading.PARSE_BLOCK_BYTES)
    if cpus:
        monkeypatch.setattr(reading, "available_cpus", lambda: cpus)
    lines, bad, blank = [HEADER], {}, set()
    for i in range(2, 3000):
        if i in (5, 700, 701, 1500, 2999):
            lines.append(b"AA,10397")  # malformed: skipped by the parser, reported by number
            bad[i] = "wrong number of fields: 2 instead of 5"
        elif i in (300, 2200):
            lines.append(b"AA,10397,12478,61,5" + b" " * 600)  # long, but shorter than a block
        elif i % 1000 == 17:
            lines.append(b"   ")  # whitespace only: a blank line, skipped by the parser too
            blank.add(i)
        elif i % 1000 == 18:
            lines.append(b"")
            blank.add(i)
        else:
            lines.append(b"AA,10397,12478,%d,5" % (i % 200))
    counts, valid, rejected = scan(newline.join(lines))
    got = dict(zip(rejected.source_line.astype(int), rejected.reason))  # noqa: B905 - runs on Python 3.9 too
    assert got == bad and len(rejected) == len(bad)
    numbers = valid.source_line.to_numpy()
    assert numbers.tolist() == [i for i in range(2, 3000) if i not in bad and i not in blank]
    assert (valid.dep_delay.to_numpy() == np.where(np.isin(numbers, [300, 2200]), 61, numbers % 200)).all()
    assert (counts.rows_read, counts.rows_blank) == (2998, len(blank))


def test_a_header_line_alone_without_a_line_break_is_refused_as_before():
    # pyarrow's own error when skip_rows=1 finds no end of the header: the job reports it as unreadable.
    with pytest.raises(pa.ArrowInvalid, match="Could not skip initial 1 rows"):
        scan(HEADER)


class FailingRead(io.RawIOBase):
    """A file whose read fails after `good` bytes, as an S3 body does when the connection drops."""

    def __init__(self, data: bytes, good: int):
        self.data, self.good, self.pos = data, good, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.pos >= self.good:
            raise ConnectionResetError("connection reset by peer")
        size = len(self.data) if size is None or size < 0 else size
        chunk = self.data[self.pos:min(self.pos + size, self.good)]
        self.pos += len(chunk)
        return chunk


def test_a_read_that_fails_midway_fails_the_scan_after_the_blocks_before_it(monkeypatch):
    monkeypatch.setattr(reading, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(reading, "PARSE_BLOCK_BYTES", 1000)
    data = HEADER + b"\n" + b"AA,10397,12478,61,5\n" * 2000
    order = column_order(data[:HEADER_PEEK_BYTES], "s3://bucket/key")
    valid = []
    with pytest.raises(ConnectionResetError):
        scan_file(FailingRead(data, 3 * 4096), order, AIRPORT_IDS, 60, valid.append, lambda rejected: None)
    rows = sum(table.num_rows for table in valid)
    assert 0 < rows < 2000  # the blocks read before the failure were validated; the rest never arrived
    assert not [t for t in threading.enumerate() if t.name.startswith("csv")]  # the reading threads ended


def test_a_file_refused_early_stops_reading_it(monkeypatch):
    # An unterminated quote on line 3 refuses the file at its first block: the reader stops, the threads end.
    monkeypatch.setattr(reading, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(reading, "PARSE_BLOCK_BYTES", 1000)
    data = HEADER + b"\nAA,10397,12478,61,5\n\"AA,10397,12478,61,5\n" + b"AA,10397,12478,61,5\n" * 20000
    stream = io.BytesIO(data)
    with pytest.raises(UnterminatedQuote, match="line 3"):
        scan_file(stream, column_order(data[:HEADER_PEEK_BYTES], "s3://bucket/key"), AIRPORT_IDS, 60,
                  lambda valid: None, lambda rejected: None)
    assert stream.tell() < len(data) // 2  # the file was not read to its end
    assert not [t for t in threading.enumerate() if t.name.startswith("csv")]


@pytest.mark.parametrize("cpus, threaded", [(1, False), (2, True)])
def test_blocks_are_parsed_on_threads_only_with_a_cpu_to_spare(monkeypatch, cpus, threaded):
    # A Python shell job of 0.0625 DPU has one CPU: it parses its blocks one after the other, on its own thread.
    monkeypatch.setattr(reading, "CSV_BLOCK_BYTES", 4096)
    monkeypatch.setattr(reading, "PARSE_BLOCK_BYTES", 1000)
    monkeypatch.setattr(reading, "available_cpus", lambda: cpus)
    data = HEADER + b"\n" + b"AA,10397,12478,61,5\n" * 2000
    seen = set()

    def valid(table):
        seen.update(t.name for t in threading.enumerate() if t.name.startswith("csv"))

    counts = scan_file(io.BytesIO(data), column_order(data[:HEADER_PEEK_BYTES], "s3://bucket/key"), AIRPORT_IDS,
                       60, valid, lambda rejected: None)
    assert counts.rows_valid == 2000 and bool(seen) is threaded


def test_newlines_counts_the_line_feeds_of_any_range_as_bytes_count_does():
    data = b"a\nbc\r\n\n\r\rd\n" * 50 + b"tail"
    for start, end in [(0, len(data)), (0, 0), (1, 2), (2, 3), (5, 400), (len(data) - 5, len(data))]:
        assert reading.newlines(data, start, end) == data.count(b"\n", start, end), (start, end)
    assert reading.newlines(b"", 0, 0) == 0
