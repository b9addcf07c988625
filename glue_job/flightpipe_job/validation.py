"""Validating one daily file: the rules per field, one block at a time, and the whole-file counts."""

from __future__ import annotations

import csv
import dataclasses
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from flightpipe_job import reading
from flightpipe_job.errors import BadFile, UnterminatedQuote
from flightpipe_job.reading import COLUMNS, LineCounter, read_csv_blocks

# Delays outside these bounds (minutes) are data errors, not flights: a day early or two days late.
DELAY_MIN, DELAY_MAX = -1440, 2880


REJECT_COLUMNS = ["source_line", "reason", *COLUMNS, "raw_record"]

# Problem bits of one field; EMPTY marks an empty (or whitespace-only) field, which is not a problem itself.
EMPTY = 0x80
CARRIER_RULE = (r"^[A-Za-z0-9]{2,3}$", "Carrier must be 2-3 letters or digits: '{}'")
AIRPORT_ID_RULES = (
    (0x01, "{column} is not an integer id: '{{}}'"),
    (0x02, "{column} {{}} is not in airlines.airports_dim"),
)
DELAY_RULES = (
    (0x01, "{column} is not a number: '{{}}'"),
    (0x02, "{column} is not a whole number of minutes: '{{}}'"),
    (0x04, "{column} {{}} is outside " + f"{DELAY_MIN}..{DELAY_MAX} minutes"),
)


UNTERMINATED_QUOTE = ('unterminated quote: the line has an odd number of \'"\' characters, so a quoted field '
                      "would run into the next line")


def dictionary_parts(columns) -> tuple[pa.Array, list[np.ndarray], np.ndarray, list[int]]:
    """Text columns as (the distinct texts of every column, one column's after the other's, unquoted and with
    surrounding whitespace trimmed; for each column, the index of each row's text among that column's texts
    (add the column's start for the index in all of them); number of quote
    characters in each distinct text as written; where each column's texts start, and their end). A field
    written `"..."` is unquoted with `""` read as one quote (RFC 4180). The texts of all columns are handled
    together: a compute call costs the same few microseconds on a day's five dictionaries as on one."""
    dictionaries, indices, starts = [], [], [0]
    for column in columns:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if not pa.types.is_dictionary(array.type):
            array = pc.dictionary_encode(array)
        # As numpy's own index type: numpy converts any other to it at every look-up (a uint8 look-up of 100k
        # rows: 0.05 ms with intp indices, 0.17 ms with int32 ones, numpy 1.22, measured).
        indices.append(array.indices.to_numpy(zero_copy_only=False).astype(np.intp))
        dictionaries.append(array.dictionary)
        starts.append(starts[-1] + len(array.dictionary))
    written = pa.concat_arrays(dictionaries)
    texts = pc.utf8_trim_whitespace(written)
    quotes = pc.count_substring(written, '"').to_numpy(zero_copy_only=False).astype(np.int64)
    if quotes.any():
        quoted = pc.match_substring_regex(texts, r'(?s)^".*"$')
        inner = pc.replace_substring(pc.replace_substring_regex(texts, r'(?s)^"(.*)"$', r"\1"), '""', '"')
        texts = pc.utf8_trim_whitespace(pc.if_else(quoted, inner, texts))
    return texts, indices, quotes, starts


def as_bool(values) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def check_carriers(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    codes = np.where(as_bool(pc.match_substring_regex(texts, CARRIER_RULE[0])), 0, 0x01).astype(np.uint8)
    return codes, texts


def check_airport_ids(texts: pa.Array, airport_ids: pa.Array) -> tuple[np.ndarray, pa.Array]:
    is_int = as_bool(pc.match_substring_regex(texts, r"^[0-9]{1,18}$"))
    ids = pc.cast(pc.if_else(pa.array(is_int), texts, pa.scalar(None, pa.string())), pa.int64())
    known = as_bool(pc.is_in(ids, value_set=airport_ids))
    codes = np.where(~is_int, 0x01, np.where(known, 0, 0x02)).astype(np.uint8)
    return codes, ids


def check_delays(texts: pa.Array, is_empty: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """A cancelled flight has no delays: an empty field is valid and NULL."""
    is_number = as_bool(pc.match_substring_regex(texts, r"^[+-]?([0-9]{1,12}(\.[0-9]*)?|\.[0-9]+)$"))
    # A leading "+" is a sign like "-", but pyarrow 7.0.0 (Glue's) cannot cast "+3" to a number: drop it first.
    unsigned = pc.replace_substring_regex(texts, r"^\+", "")
    number = pc.cast(pc.if_else(pa.array(is_number), unsigned, pa.scalar(None, pa.string())), pa.float64())
    whole = as_bool(pc.equal(number, pc.floor(number)))
    in_range = as_bool(pc.and_(pc.greater_equal(number, DELAY_MIN), pc.less_equal(number, DELAY_MAX)))
    codes = np.zeros(len(texts), dtype=np.uint8)
    codes[~is_empty & ~is_number] |= 0x01
    codes[is_number & ~whole] |= 0x02
    codes[is_number & whole & ~in_range] |= 0x04
    delays = pc.cast(pc.if_else(pa.array(whole & in_range), number, pa.scalar(None, pa.float64())), pa.int64())
    return codes, delays


def reject_rules() -> list[tuple[str, int, str]]:
    """(column, problem bit, reason template) in the order the reasons of one row are written."""
    rules = [("Carrier", 0x01, CARRIER_RULE[1])]
    for column in ("OriginAirportID", "DestAirportID"):
        rules += [(column, bit, text.format(column=column)) for bit, text in AIRPORT_ID_RULES]
    for column in ("DepDelay", "ArrDelay"):
        rules += [(column, bit, text.format(column=column)) for bit, text in DELAY_RULES]
    return rules


REJECT_RULES = reject_rules()


def validate_block(
    table: pa.Table, numbers: np.ndarray, airport_ids: pa.Array
) -> tuple[pa.Table, pd.DataFrame | None, int, np.ndarray]:
    """Split one block into valid rows (typed: carrier, origin_airport_id, dest_airport_id, dep_delay,
    arr_delay, source_line) and rejected rows (a pandas DataFrame of the original fields, source_line,
    reason; None when there are none). Returns (valid, rejected, blank, quote_lines): blank counts all-empty
    rows (blank lines), which are not records; quote_lines are the numbers of the lines with an unterminated
    quote (an odd number of `"`), which are rejected.

    Every check runs on the distinct texts of a field (the dictionary); each row gets its field's problem
    bits through its index, so the per-row work is a few array look-ups whatever the number of checks. The
    columns checked alike (the two airport ids, the two delays) are checked in one call each."""
    texts, indices, quotes, starts = dictionary_parts([table[c] for c in COLUMNS])
    # The distinct texts in column order: Carrier | OriginAirportID, DestAirportID | DepDelay, ArrDelay.
    carrier, airports, delays = slice(starts[0], starts[1]), slice(starts[1], starts[3]), slice(starts[3], starts[5])
    is_empty = as_bool(pc.equal(texts, ""))
    carrier_codes, carriers = check_carriers(texts[carrier])
    airport_codes, ids = check_airport_ids(texts[airports], airport_ids)
    delay_codes, delay_values = check_delays(texts[delays], is_empty[delays])
    codes = np.concatenate([carrier_codes, airport_codes, delay_codes]) | np.where(is_empty, EMPTY, 0).astype(np.uint8)

    def per_row(values: np.ndarray) -> list[np.ndarray]:
        """A value per distinct text (all columns' texts in turn) as each row's value, column by column."""
        return [values[starts[c]:starts[c + 1]][index] for c, index in enumerate(indices)]

    row_codes = per_row(codes)  # each row's problem bits, column by column
    blank, bad = np.ones(table.num_rows, dtype=bool), np.zeros(table.num_rows, dtype=bool)
    for column_codes in row_codes:
        blank &= (column_codes & EMPTY) != 0
        bad |= (column_codes & ~np.uint8(EMPTY)) != 0
    bad &= ~blank
    unterminated = np.zeros(table.num_rows, dtype=bool)
    if quotes.any():
        unterminated = sum(per_row(quotes)) % 2 == 1
    bad |= unterminated
    dropped = bad | blank
    keep = np.flatnonzero(~dropped) if dropped.any() else None  # None: every row is valid (the usual case)

    def rows_of(values: pa.Array, column: int, start: int) -> pa.Array:
        """The valid rows' values of `column`, from `values` (typed, one per text, from `start` on)."""
        own = values.slice(starts[column] - start, starts[column + 1] - starts[column])
        index = indices[column] if keep is None else indices[column][keep]
        return own.take(pa.array(index))

    valid = pa.table(
        {
            "source_line": pa.array(numbers if keep is None else numbers[keep], pa.int64()).cast(pa.int32()),
            "carrier": rows_of(carriers, 0, starts[0]),
            "origin_airport_id": rows_of(ids, 1, starts[1]),
            "dest_airport_id": rows_of(ids, 2, starts[1]),
            "dep_delay": rows_of(delay_values, 3, starts[3]),
            "arr_delay": rows_of(delay_values, 4, starts[3]),
        }
    )
    rejected = None
    if bad.any():
        rejected = rejected_rows(table, numbers, np.flatnonzero(bad), texts,
                                 {c: indices[i] + starts[i] for i, c in enumerate(COLUMNS)},
                                 dict(zip(COLUMNS, row_codes)), unterminated)
    return valid, rejected, int(blank.sum()), numbers[unterminated]


def rejected_rows(table: pa.Table, numbers: np.ndarray, rows: np.ndarray, texts: pa.Array,
                  indices: dict[str, np.ndarray], row_codes: dict[str, np.ndarray],
                  unterminated: np.ndarray) -> pd.DataFrame:
    """The rejected `rows` of a block: their original fields, line numbers and reasons."""
    reason = pd.Series("", index=range(len(rows)), dtype=object)
    for column, bit, template in REJECT_RULES:
        hit = (row_codes[column][rows] & bit) != 0
        if hit.any():
            field = pd.Series(texts.take(pa.array(indices[column][rows])).to_numpy(zero_copy_only=False),
                              dtype=object)
            before, after = template.split("{}")
            reason = reason.where(~hit, reason + before + field + after + "; ")
    original = table.take(pa.array(rows))
    original = pa.table({c: pc.cast(original[c], pa.string()) for c in COLUMNS})
    reason = reason.str.rstrip("; ").where(~unterminated[rows], UNTERMINATED_QUOTE)
    return original.to_pandas().assign(
        source_line=numbers[rows], reason=reason.to_numpy(), raw_record=""
    )[REJECT_COLUMNS]


@dataclasses.dataclass
class Counts:
    rows_read: int = 0  # data lines: the file's physical lines minus the header
    rows_rejected: int = 0
    rows_valid: int = 0
    rows_filtered: int = 0  # not loaded, not an error: valid with dep_delay < threshold or empty, or blank
    rows_blank: int = 0  # empty or whitespace-only lines (counted in rows_filtered too)


def scan_file(
    raw,
    order: list[int],
    airport_ids: pa.Array,
    min_dep_delay: int,
    on_valid: Callable[[pa.Table], None],
    on_rejected: Callable[[pd.DataFrame], None],
    uri: str = "the file",
    multiline_quotes: str = "refuse",
) -> Counts:
    """Validate every line of a daily file (a binary stream), streaming; hand valid rows (a pyarrow Table)
    and rejected rows (a pandas DataFrame) to the callbacks. Every data line of the file is counted once:
    rows_read = rows_valid + rows_rejected + rows_blank, else BadFile."""
    counts = Counts()
    quote_lines: list[int] = []
    quoted_lines: list[tuple[int, list[str]]] = []
    counter = LineCounter(raw, reading.CSV_BLOCK_BYTES)

    def reject(number: int, text: str, reason: str) -> None:
        counts.rows_rejected += 1
        row = dict.fromkeys(REJECT_COLUMNS, "")
        row.update(source_line=number, raw_record=text, reason=reason)
        on_rejected(pd.DataFrame([row], columns=REJECT_COLUMNS))

    def malformed(number: int, text: str, fields: int) -> None:
        if number in counter.long_lines:
            reject(number, counter.long_lines[number].decode("utf-8", "replace"),
                   f"line {number} is longer than {reading.CSV_BLOCK_BYTES} bytes")
        elif not text.strip():  # a whitespace-only line is a blank line, not a record
            counts.rows_blank += 1
        elif text.count('"') % 2:
            quote_lines.append(number)
            reject(number, text, UNTERMINATED_QUOTE)
        else:
            split = next(csv.reader([text])) if '"' in text else []
            if len(split) == len(COLUMNS):  # a quoted field holds a comma
                quoted_lines.append((number, split))
            else:
                reject(number, text, f"wrong number of fields: {len(split) or fields} instead of {len(COLUMNS)}")

    def take(valid: pa.Table, rejected: pd.DataFrame | None, blank: int) -> None:
        counts.rows_blank += blank
        counts.rows_valid += valid.num_rows
        kept = pc.sum(pc.fill_null(pc.greater_equal(valid["dep_delay"], min_dep_delay), False)).as_py() or 0
        counts.rows_filtered += valid.num_rows - kept
        if rejected is not None and len(rejected):
            counts.rows_rejected += len(rejected)
            on_rejected(rejected)
        if valid.num_rows:
            on_valid(valid)

    def take_quoted() -> None:
        """Lines whose quoted fields hold commas, split by Python's csv module (RFC 4180), validated as rows
        written with every field quoted (so their quotes count as balanced)."""
        if quoted_lines:
            fields = [['"' + f.replace('"', '""') + '"' for f in row] for _, row in quoted_lines]
            table = pa.table({c: pa.array([row[i] for row in fields], pa.string()) for c, i in zip(COLUMNS, order)})
            numbers = np.asarray([n for n, _ in quoted_lines], dtype=np.int64)
            quoted_lines.clear()
            valid, rejected, blank, _ = validate_block(table, numbers, airport_ids)
            take(valid, rejected, blank)

    def refuse_quotes(lines: list[int]) -> None:
        if multiline_quotes == "refuse" and lines:
            raise UnterminatedQuote(
                f"{uri}: line {min(lines)} has an unterminated quote (\"), which would run into the lines after "
                "it: the day is not loaded (fix the file, or run with --multiline_quotes reject)")

    for table, numbers in read_csv_blocks(counter, order, malformed):
        valid, rejected, blank, in_block = validate_block(table, numbers, airport_ids)
        refuse_quotes(quote_lines + in_block.tolist())
        take(valid, rejected, blank)
        take_quoted()
    refuse_quotes(quote_lines)
    take_quoted()
    counts.rows_read = max(counter.lines - 1, 0)
    counts.rows_filtered += counts.rows_blank
    seen = counts.rows_valid + counts.rows_rejected + counts.rows_blank
    if seen != counts.rows_read:
        raise BadFile(f"{uri}: the CSV reader found {seen} data lines where the file has {counts.rows_read} "
                      "(line breaks must be \\n or \\r\\n; a lone \\r is not one)")
    return counts
