"""The fact rows the pipeline must produce, computed with pandas alone.

This is the yardstick the tests and the benchmark hold the warehouse against, so it shares nothing with the job or
the SQL: read the raw CSV, join `data/airports.csv` on the departure and on the arrival airport, keep departures
delayed by at least the threshold (a cancelled flight has no delay and is never a fact).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

AIRPORTS = Path(__file__).resolve().parents[1] / "data" / "airports.csv"
FACT_COLUMNS = ["carrier", "dep_airport", "arr_airport", "dep_city", "arr_city", "dep_state", "arr_state",
                "dep_delay", "arr_delay"]
_SIDES = {"name": "airport", "city": "city", "state": "state"}


def read_day(csv_bytes: bytes) -> pd.DataFrame:
    """A well-formed day file as pandas reads it (a UTF-8 BOM, if any, dropped)."""
    return pd.read_csv(io.BytesIO(csv_bytes), encoding="utf-8-sig", dtype={"Carrier": str})


def day_facts(csv_bytes: bytes, min_dep_delay: int = 60) -> pd.DataFrame:
    """The fact rows of one well-formed day file, as `normalise` gives them."""
    return expected_facts(read_day(csv_bytes), min_dep_delay)


def expected_facts(flights: pd.DataFrame, min_dep_delay: int = 60, columns: list[str] = FACT_COLUMNS) -> pd.DataFrame:
    """The fact rows of `flights` (reference-format columns; `flight_date` too if `columns` asks for it), as
    `normalise` gives them."""
    airports = pd.read_csv(AIRPORTS)
    dep = airports.rename(columns={"airport_id": "OriginAirportID", **{k: f"dep_{v}" for k, v in _SIDES.items()}})
    arr = airports.rename(columns={"airport_id": "DestAirportID", **{k: f"arr_{v}" for k, v in _SIDES.items()}})
    rows = flights.merge(dep, on="OriginAirportID").merge(arr, on="DestAirportID")
    rows = rows[rows.DepDelay.notna() & (rows.DepDelay >= min_dep_delay)]
    renamed = rows.rename(columns={"Carrier": "carrier", "DepDelay": "dep_delay", "ArrDelay": "arr_delay"})
    return normalise(renamed, columns)


def normalise(facts: pd.DataFrame, columns: list[str] = FACT_COLUMNS) -> pd.DataFrame:
    """`columns` of the fact rows (the two delays last) typed and sorted, to compare two sets of rows."""
    out = facts[columns].copy()
    for column in columns[:-2]:
        out[column] = out[column].astype(str)
    for column in columns[-2:]:
        out[column] = pd.to_numeric(out[column]).astype("Int64")
    return out.sort_values(columns, na_position="last").reset_index(drop=True)
