"""Response timestamps: the quick parse writes the text botocore's parse writes, for every timestamp format."""

from __future__ import annotations

import datetime as dt

import botocore.utils
import pytest
from moto.core.serialize import TimestampSerializer

from flightpipe_local import timestamps

VALUES = ["2013-01-01T06:00:00.000Z", "2013-01-01T06:00:00Z", "2013-01-01T06:00:00.5Z",
          "2013-01-01T06:00:00.123456Z", "2013-01-01T06:00:00.000+02:00", "2013-01-01T06:00:00",
          "2013-01-01", "1357020000", 1357020000, 1357020000.25, "Tue, 01 Jan 2013 06:00:00 GMT",
          dt.datetime(2013, 1, 1, 6), dt.datetime(2013, 1, 1, 6, tzinfo=dt.timezone(dt.timedelta(hours=-5)))]
FORMATS = ["iso8601", "iso8601_zeroed", "unixtimestamp", "rfc822"]


def _written(parse, value, timestamp_format, monkeypatch):
    monkeypatch.setattr("moto.core.serialize.parse_to_aware_datetime", parse)
    return TimestampSerializer(timestamp_format)._convert_timestamp_to_str(value, timestamp_format)


@pytest.mark.parametrize("value", VALUES, ids=repr)
@pytest.mark.parametrize("timestamp_format", FORMATS)
def test_the_text_written_is_botocores(value, timestamp_format, monkeypatch):
    ours = _written(timestamps.parse_to_aware_datetime, value, timestamp_format, monkeypatch)
    assert ours == _written(botocore.utils.parse_to_aware_datetime, value, timestamp_format, monkeypatch)


@pytest.mark.parametrize(("timestamp_format", "text"), [
    ("iso8601", "2013-01-01T06:00:00Z"), ("iso8601_zeroed", "2013-01-01T06:00:00.000Z"),
    ("unixtimestamp", 1357020000), ("rfc822", "Tue, 01 Jan 2013 06:00:00 GMT")])
def test_moto_s3_text_is_written_in_each_format(timestamp_format, text, monkeypatch):
    """By hand: 2013-01-01 is 15,706 days after 1970-01-01 (1,356,998,400 s), a Tuesday; 06:00 adds 21,600 s."""
    assert _written(timestamps.parse_to_aware_datetime, "2013-01-01T06:00:00.000Z", timestamp_format,
                    monkeypatch) == text
