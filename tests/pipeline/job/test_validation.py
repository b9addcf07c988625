"""The job's row validation and whole-file checks: every class of bad row, blank lines, quotes.

Also run on Glue's runtime (test_job_on_glue_runtime.py): Python 3.9 syntax, no conftest.
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
from job_inputs import HEADER, scan

from flightpipe_job.errors import BadFile


def test_every_bad_row_class_is_rejected_with_its_line_and_reason():
    lines = [
        HEADER,
        b"AA,10397,12478,61,5",  # 2 valid, kept
        b"AA,10397,12478",  # 3 wrong field count
        b",10397,12478,61,5",  # 4 empty carrier
        b"A-1,10397,12478,61,5",  # 5 carrier not alphanumeric
        b"AA,10397,12478,soon,5",  # 6 non-numeric delay
        b"AA,10397,12478,61,99999",  # 7 absurd delay
        b"AA,10397,12478,1.5,5",  # 8 not whole minutes
        b"AA,11111,12478,61,5",  # 9 airport not in the dimension
        b"AA,JFK,12478,61,5",  # 10 non-integer airport id
        b"UA,12478,13303,,",  # 11 cancelled: valid, NULL delays, filtered
        b'"B6","13303","10397","60",""',  # 12 quoted, exactly the threshold, NULL arrival: kept
        b"AA,10397,12478,59,5",  # 13 just below the threshold: filtered
        b"AA,10397,12478,1,2,3",  # 14 too many fields
    ]
    counts, valid, rejected = scan(b"\n".join(lines) + b"\n")
    expected_rejects = {3: "number of fields", 4: "Carrier", 5: "Carrier", 6: "not a number", 7: "outside",
                        8: "whole number", 9: "not in airlines.airports_dim", 10: "not an integer",
                        14: "number of fields"}
    got = dict(zip(rejected.source_line.astype(int), rejected.reason))  # noqa: B905 - runs on Python 3.9 too
    assert sorted(got) == sorted(expected_rejects)
    for line, words in expected_rejects.items():
        assert words in got[line], (line, got[line])
    assert valid.source_line.tolist() == [2, 11, 12, 13]
    assert valid.dep_delay.isna().tolist() == [False, True, False, False]
    assert valid.arr_delay.isna().tolist() == [False, True, True, False]
    assert counts.rows_read == len(lines) - 1
    assert counts.rows_rejected == len(expected_rejects)
    assert counts.rows_filtered == 2  # the cancelled flight and the 59
    assert counts.rows_read == counts.rows_valid + counts.rows_rejected
    # A rejected row keeps its original fields; a malformed one its raw text.
    assert rejected.set_index("source_line").loc[6, "DepDelay"] == "soon"
    assert rejected.set_index("source_line").loc[3, "raw_record"] == "AA,10397,12478"


def test_a_delay_with_a_plus_sign_is_that_number():
    # "+75" and "+0.0" are numbers written with their sign: a valid row, typed 75 and 0, not a refused file.
    counts, valid, rejected = scan(HEADER + b"\nAA,10397,12478,+75,+0.0\nAA,10397,12478,+1.5,-3\n")
    assert counts.rows_read == 2 and counts.rows_valid == 1 and counts.rows_rejected == 1
    assert valid.dep_delay.tolist() == [75] and valid.arr_delay.tolist() == [0]
    assert "whole number" in rejected.reason.iloc[0] and rejected.source_line.tolist() == [3]


def test_blank_lines_count_as_filtered_and_a_quoted_newline_is_an_unterminated_quote():
    # lines: 1 header, 2 blank, 3 valid, 4-5 one quoted field holding a line break, 6 blank, 7 valid
    data = HEADER + b'\r\n\r\nAA,10397,12478,61,5\r\n"A\nA",10397,12478,61,5\r\n   \r\nUA,10397,12478,70,1\r\n'
    with pytest.raises(BadFile, match=r"s3://bucket/key: line 4 has an unterminated quote"):
        scan(data)
    counts, valid, rejected = scan(data, multiline_quotes="reject")
    assert counts.rows_read == 6  # data lines: 7 physical lines minus the header
    assert valid.source_line.tolist() == [3, 7]
    assert rejected.source_line.tolist() == [4, 5]
    assert all("unterminated quote" in reason for reason in rejected.reason)
    assert (counts.rows_blank, counts.rows_filtered, counts.rows_rejected) == (2, 2, 2)


def stray_quote_day() -> tuple[bytes, list[bytes]]:
    """914 lines: a header and 913 flights; line 102 opens a quote it never closes."""
    lines = [HEADER] + [b"AA,10397,12478,%d,5" % (60 + i % 50) for i in range(2, 915)]
    lines[101] = b'AA,"10397,12478,75,5'
    return b"\n".join(lines) + b"\n", lines


def test_a_stray_quote_is_refused_with_its_line_or_rejected_alone():
    data, lines = stray_quote_day()
    with pytest.raises(BadFile, match=r"line 102 has an unterminated quote"):
        scan(data)
    counts, valid, rejected = scan(data, multiline_quotes="reject")
    assert rejected.source_line.tolist() == [102] and "unterminated quote" in rejected.reason[0]
    assert valid.source_line.tolist() == [n for n in range(2, 915) if n != 102]
    assert (counts.rows_read, counts.rows_rejected, counts.rows_valid) == (913, 1, 912)
    # A reader that lets a quoted field hold line breaks (pandas' C parser here) reads on to the end of the file.
    with pytest.raises(pd.errors.ParserError, match="EOF inside string"):
        pd.read_csv(io.BytesIO(data), dtype=str)


def test_quoted_fields_are_unquoted_and_a_quoted_comma_is_one_field():
    data = HEADER + b'\n"AA","10397"," 12478 ","6""1",""\n"U,A",10397,12478,61,5\n"UA",10397,12478,61,5\n'
    counts, valid, rejected = scan(data)
    assert valid.source_line.tolist() == [4] and valid.carrier.tolist() == ["UA"]
    got = dict(zip(rejected.source_line.astype(int), rejected.reason))  # noqa: B905 - runs on Python 3.9 too
    assert sorted(got) == [2, 3]
    assert "DepDelay is not a number: '6\"1'" in got[2]
    assert "Carrier must be 2-3 letters or digits: 'U,A'" in got[3]
    assert counts.rows_read == 3
