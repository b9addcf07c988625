"""Generated daily files: the reference format, one file per day, each day's flights in the package's order."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flightpipe import samples


def test_each_day_is_what_pandas_writes_for_that_day_alone(tmp_path):
    # Across a month boundary, days with cancelled flights (empty delays) included.
    first, last = dt.date(2013, 1, 30), dt.date(2013, 2, 9)
    written = samples.write_days(first, last, tmp_path)
    flights = samples.nyc_flights_2013()
    assert [p.parent.name for p in written] == [f"date={first + dt.timedelta(days=n)}" for n in range(11)]
    for path in written:
        day = dt.date.fromisoformat(path.parent.name[len("date="):])
        expected = flights[flights.flight_date == day][samples.HEADER].to_csv(index=False, lineterminator="\n")
        assert path.read_bytes() == expected.encode()
    assert any(b",," in p.read_bytes() or p.read_bytes().count(b",\n") for p in written)  # empty delays kept


def test_a_resampled_day_reads_back_as_its_rows(tmp_path):
    path = samples.write_resampled_day(5000, tmp_path / "day" / "flights.csv", seed=3)
    back = pd.read_csv(path, dtype={"DepDelay": "Int64", "ArrDelay": "Int64"})
    expected = samples.nyc_flights_2013().sample(n=5000, replace=True, random_state=3)[samples.HEADER]
    pd.testing.assert_frame_equal(back, expected.reset_index(drop=True))
