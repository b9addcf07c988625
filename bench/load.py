"""Load throughput: the Glue job's transform + load of one big day against a hand-written DuckDB baseline.

The job runs as a subprocess (`bench.job_driver`) against the provisioned stack: it reads the day from the
stack's S3, validates it, stages Parquet and loads it through the Redshift Data API into the warehouse.
The baseline is the same join and filter as one DuckDB `INSERT … SELECT … JOIN` over the same CSV into a
fresh DuckDB file. Both run on this machine in this run, so their ratio is meaningful where absolute times
drift.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import duckdb

from bench.stack import Stack
from flightpipe import job_wheel
from flightpipe.config import PROJECT_ROOT
from flightpipe.samples import write_resampled_day
from flightpipe_local import context, glue_runtime
from flightpipe_local.glue_jobs import job_environment

AIRPORTS = PROJECT_ROOT / "data" / "airports.csv"
BASELINE_SQL = """
INSERT INTO fact
SELECT f.Carrier, dep.name, arr.name, dep.city, arr.city, dep.state, arr.state, f.DepDelay, f.ArrDelay,
       DATE '{day}'
FROM read_csv('{path}', header = true, columns = {{'Carrier': 'VARCHAR', 'OriginAirportID': 'BIGINT',
              'DestAirportID': 'BIGINT', 'DepDelay': 'BIGINT', 'ArrDelay': 'BIGINT'}}) f
JOIN airports dep ON dep.airport_id = f.OriginAirportID
JOIN airports arr ON arr.airport_id = f.DestAirportID
WHERE f.DepDelay >= 60
"""


@dataclass
class JobRun:
    rows: int
    seconds: float  # main(argv): transform + load, the interpreter and imports excluded
    import_seconds: float
    process_seconds: float  # the whole subprocess, interpreter start-up included
    peak_rss_mb: float
    rows_loaded: int


def sample_day(rows: int, folder: Path) -> Path:
    path = folder / f"resampled-{rows}" / "flights.csv"
    if not path.exists():
        write_resampled_day(rows, path, seed=13)
    return path


def baseline(csv_path: Path, day: str, folder: Path) -> tuple[float, int]:
    """Seconds for the hand-written load into a fresh DuckDB file, and the rows it inserted."""
    db_path = folder / f"baseline-{time.monotonic_ns()}.duckdb"
    con = duckdb.connect(str(db_path))
    try:
        con.execute(f"CREATE TABLE airports AS SELECT * FROM read_csv('{AIRPORTS}', header = true)")  # noqa: S608
        con.execute("""CREATE TABLE fact (carrier VARCHAR, dep_airport VARCHAR, arr_airport VARCHAR,
                       dep_city VARCHAR, arr_city VARCHAR, dep_state VARCHAR, arr_state VARCHAR,
                       dep_delay BIGINT, arr_delay BIGINT, flight_date DATE)""")
        started = time.perf_counter()
        con.execute(BASELINE_SQL.format(day=day, path=csv_path))
        seconds = time.perf_counter() - started
        rows = con.execute("SELECT COUNT(*) FROM fact").fetchone()[0]
    finally:
        con.close()
        db_path.unlink(missing_ok=True)
    return seconds, rows


class LoadBench:
    """Runs the job on days uploaded to a bucket of their own, so that no event starts the state machine
    and only the uploaded day is the job's work."""

    def __init__(self, stack: Stack, folder: Path):
        self.stack = stack
        self.folder = folder
        self.bucket = f"{stack.names.bucket}-load"
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})

    def run_job(self, csv_path: Path, day: str, profile: Path | None = None) -> JobRun:
        key = f"{self.stack.names.raw_prefix}date={day}/flights.csv"
        boto3.client("s3").upload_file(str(csv_path), self.bucket, key)
        result = self.folder / f"job-{time.monotonic_ns()}.json"
        argv = self.stack.job_argv(raw_bucket=self.bucket, object_key=key,
                                   run_id=f"jr_bench_{time.monotonic_ns()}")
        # The job runs where Glue runs it: Glue's Python shell 3.9 runtime, with the environment the local Glue
        # gives job scripts (the stack's endpoint; older botocore needs the shim that honours AWS_ENDPOINT_URL)
        # and the job's wheel on its path, as --extra-py-files gives it.
        python = glue_runtime.resolve().python
        env = job_environment(context.current(), "bench", [job_wheel.build()])
        command = [str(python), "-m", "bench.job_driver", str(result), "--", *argv]
        if profile:  # pyinstrument is not part of Glue's runtime: profiles run on this interpreter
            python, env = sys.executable, os.environ.copy()
            command = [python, "-m", "pyinstrument", "-r", "text", "-o", str(profile), "-m",
                       "bench.job_driver", str(result), "--", *argv]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, env=env)
        process_seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"the job failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        out = json.loads(result.read_text())
        result.unlink()
        loaded = [row for row in out["loads"] if row["status"] == "LOADED"]
        if len(loaded) != 1:
            raise RuntimeError(f"expected one LOADED day, got {out['loads']}")
        return JobRun(int(loaded[0]["rows_read"]), out["main_seconds"], out["import_seconds"], process_seconds,
                      out["peak_rss_mb"], int(loaded[0]["rows_loaded"]))


def measure(stack: Stack, sizes: list[int], repeats: int, folder: Path | None = None) -> dict:
    """For each size: the job's and the baseline's median time over `repeats`, their ratio, peak RSS."""
    folder = folder or Path(tempfile.mkdtemp(prefix="flightpipe-load-"))
    bench = LoadBench(stack, folder)
    results = {}
    for number, rows in enumerate(sizes):
        csv_path = sample_day(rows, folder)
        day = f"2014-01-{number + 1:02d}"  # outside the year the backfill loads
        jobs = [bench.run_job(csv_path, day) for _ in range(repeats)]
        base = [baseline(csv_path, day, folder) for _ in range(repeats)]
        if len({j.rows_loaded for j in jobs} | {b[1] for b in base}) != 1:
            raise RuntimeError(f"{rows} rows: job loaded {[j.rows_loaded for j in jobs]}, "
                               f"baseline {[b[1] for b in base]}")
        job_seconds = statistics.median(j.seconds for j in jobs)
        base_seconds = statistics.median(b[0] for b in base)
        results[rows] = {
            "job_seconds": job_seconds,
            "baseline_seconds": base_seconds,
            "ratio": job_seconds / base_seconds,
            "process_seconds": statistics.median(j.process_seconds for j in jobs),
            "import_seconds": statistics.median(j.import_seconds for j in jobs),
            "peak_rss_mb": max(j.peak_rss_mb for j in jobs),
            "rows_loaded": jobs[0].rows_loaded,
            "file_mb": csv_path.stat().st_size / 1e6,
        }
    return results


def fit_line(points: dict[int, float]) -> tuple[float, float]:
    """Least-squares `seconds = fixed + per_row * rows`: (fixed seconds, microseconds per row)."""
    xs, ys = list(points), list(points.values())
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)
    return mean_y - slope * mean_x, slope * 1e6
