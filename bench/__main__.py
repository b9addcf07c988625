"""`python -m bench [--quick] [--only latency,load,scaling,backfill]`: measure, print the table.

    latency   one sample day upload → SNS message in the inbox, ≥ 5 runs, with the stage breakdown
    load      a 1,000,000-row day through the job vs one DuckDB INSERT … SELECT (ratio, peak RSS)
    scaling   the job's load time at 10k, 100k, 1M rows and a fitted line (fixed cost + per-row cost)
    backfill  30, 120 and all 365 days of 2013 through the backfill runbook, checked against facts computed
              with pandas; a line fitted over the three gives the per-day overhead
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench import latency, load, report
from bench.stack import provisioned

SECTIONS = ("latency", "load", "scaling", "backfill")
# Notebook 07's parameters for the state machine. A Wait of 0 s is valid ASL and right for the emulator, whose
# crawls take well under a second; the crawler loop stays bounded: it gives up after MAX_CRAWLER_POLLS looks.
POLL_SECONDS = 0
MAX_CRAWLER_POLLS = 120
# The targets of the performance work (latency, ratios against the DuckDB baseline, the backfill).
LATENCY_TARGET = 0.6
LOAD_RATIO_TARGET = 2.0
MARGINAL_RATIO_TARGET = 1.5
BACKFILL_JOB_TARGET = 3.0
BACKFILL_TARGET = 15.0
BACKFILL_DAYS = [30, 120, 365]
QUICK_BACKFILL_DAYS = [10, 20, 31]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs, 100k rows instead of 1M, January instead of the whole year")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--runs", type=int, default=None, help="latency runs (default 7, quick 5)")
    parser.add_argument("--json", type=Path, help="also write every measurement to this file")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")

    machine = report.machine()
    machine["python_reference_seconds"] = f"{report.python_reference_seconds():.2f}"
    print(f"machine: {report.describe(machine)}", flush=True)
    rows: list[tuple[str, str, str, str]] = []
    measured: dict = {"machine": machine}
    started = time.perf_counter()

    with provisioned(POLL_SECONDS, MAX_CRAWLER_POLLS) as stack:
        print(f"provisioned by the runbook in {stack.provision_seconds:.1f} s", flush=True)
        measured["provision_seconds"] = stack.provision_seconds

        if "latency" in only:
            runs = args.runs or (5 if args.quick else 7)
            lat = latency.measure(stack, runs)
            measured["latency"] = {k: v for k, v in lat.items() if k != "runs"}
            measured["latency"]["totals"] = [r.total for r in lat["runs"]]
            rows.append((f"latency upload → SNS in inbox, median of {runs} (~{min(lat['rows'].values())}-"
                         f"{max(lat['rows'].values())} rows)", f"{lat['median']:.2f} s", f"≤ {LATENCY_TARGET} s",
                         report.verdict(lat["median"] <= LATENCY_TARGET)))
            rows.append(("latency, max", f"{lat['max']:.2f} s", "", ""))
            for stage, seconds in lat["stages"].items():
                rows.append((f"  stage: {stage} (median)", f"{seconds:.2f} s", "", ""))
            rows.append(("  job process, Glue StartedOn → CompletedOn (median)", f"{lat['job_process']:.2f} s", "", ""))
            rows.append((f"  crawler polls (max; bounded by max_crawler_polls = {MAX_CRAWLER_POLLS})",
                         str(lat["crawler_polls"]), "", ""))
            rows.append(("  Data API statements of the job run (max)", str(lat["statements"]), "", ""))
            print(report.table(rows[-len(lat['stages']) - 5:]), flush=True)

        sizes = []
        if "scaling" in only:
            sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
        if "load" in only and not sizes:
            sizes = [100_000 if args.quick else 1_000_000]
        if sizes:
            loads = load.measure(stack, sizes, repeats=1 if args.quick else 3, folder=stack.workdir / "load")
            measured["load"] = loads
            big = max(sizes)
            r = loads[big]
            if "load" in only:
                rows.append((f"load {big:,} rows: job transform+load (main)", f"{r['job_seconds']:.2f} s", "", ""))
                rows.append((f"load {big:,} rows: DuckDB INSERT … SELECT baseline", f"{r['baseline_seconds']:.2f} s",
                             "", ""))
                rows.append((f"load {big:,} rows: ratio job / baseline", f"{r['ratio']:.2f}×",
                             f"≤ {LOAD_RATIO_TARGET}×", report.verdict(r["ratio"] <= LOAD_RATIO_TARGET)))
                rows.append((f"load {big:,} rows: job peak RSS", f"{r['peak_rss_mb']:.0f} MB", "≤ 1024 MB",
                             report.verdict(r["peak_rss_mb"] <= 1024)))
                rows.append((f"load {big:,} rows: job process incl. start-up ({r['import_seconds']:.2f} s imports)",
                             f"{r['process_seconds']:.2f} s", "", ""))
            if "scaling" in only:
                for n in sizes:
                    rows.append((f"scaling: {n:>9,} rows job / baseline",
                                 f"{loads[n]['job_seconds']:.3f} s / {loads[n]['baseline_seconds']:.3f} s", "", ""))
                fixed, per_row = load.fit_line({n: loads[n]["job_seconds"] for n in sizes})
                b_fixed, b_per_row = load.fit_line({n: loads[n]["baseline_seconds"] for n in sizes})
                measured["scaling_fit"] = {"job": [fixed, per_row], "baseline": [b_fixed, b_per_row]}
                rows.append(("scaling fit, job: fixed + per row", f"{fixed:.3f} s + {per_row:.2f} µs/row", "linear",
                             ""))
                rows.append(("scaling fit, baseline: fixed + per row", f"{b_fixed:.3f} s + {b_per_row:.2f} µs/row",
                             "", ""))
                marginal = per_row / b_per_row
                rows.append(("scaling: marginal cost job / baseline", f"{marginal:.2f}×", f"≤ {MARGINAL_RATIO_TARGET}×",
                             report.verdict(marginal <= MARGINAL_RATIO_TARGET)))
            print(report.table(rows), flush=True)

        if "backfill" in only:
            from bench import backfill

            lengths = QUICK_BACKFILL_DAYS if args.quick else BACKFILL_DAYS
            runs = backfill.measure_ranges(stack, "2013-01-01", lengths)
            measured["backfill"] = runs
            bf = runs[-1]
            rows.append((f"backfill {bf['days']} days ({bf['flights']:,} flights), runbook end to end",
                         f"{bf['seconds']:.1f} s", f"≤ {BACKFILL_TARGET:.0f} s",
                         report.verdict(bf["seconds"] <= BACKFILL_TARGET)))
            rows.append(("  of which the state machine execution", f"{bf['execution_seconds']:.1f} s", "", ""))
            rows.append((f"    crawler ({bf['days']} partitions; {bf['crawler_polls']} polls of ≤ {MAX_CRAWLER_POLLS})",
                         f"{bf['crawler_seconds']:.1f} s", "", ""))
            rows.append(("    job: claim, validate, stage and load every day", f"{bf['job_seconds']:.1f} s",
                         f"≤ {BACKFILL_JOB_TARGET:.0f} s", report.verdict(bf["job_seconds"] <= BACKFILL_JOB_TARGET)))
            for run in runs:
                rows.append((f"  backfill {run['days']:>3} days: job / end to end / Data API statements of the job",
                             f"{run['job_seconds']:.2f} s / {run['seconds']:.1f} s / {run['statements']}", "", ""))
            fixed, per_day = load.fit_line({run["days"]: run["job_seconds"] for run in runs})
            measured["backfill_fit"] = [fixed, per_day / 1e3]
            rows.append((f"backfill fit over {'/'.join(str(n) for n in lengths)} days, job: fixed + per day",
                         f"{fixed:.2f} s + {per_day / 1e3:.1f} ms/day", "", ""))
            rows.append((f"backfill facts equal to the per-day expectation ({bf['fact_rows']:,} rows)",
                         "equal" if all(r["equal"] for r in runs) else "DIFFERENT", "equal",
                         report.verdict(all(r["equal"] for r in runs))))

    print(f"\nmachine: {report.describe(machine)}; total {time.perf_counter() - started:.0f} s\n")
    print(report.table(rows))
    if args.json:
        args.json.write_text(json.dumps(measured, indent=2, default=str))
    return 0 if all(r[3] != "MISSED" and r[3] != "DIFFERENT" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
