"""`make run`: the main job end-to-end on the local target.

Starts the local stack in the background (or reuses the running one; `--port` chooses where a new one listens),
runs the `demo` runbook — provision, ingest the shipped sample days through the real event chain, validate and
chart — with one line per notebook, and prints where the report is. The stack keeps running afterwards so you can
look around: `flightpipe sql "SELECT ..."`, then `flightpipe local stop`.
"""

from __future__ import annotations

import argparse
import sys

from flightpipe import cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="the local stack's port, if it must be started (default 5055)")
    args = parser.parse_args(argv)
    code = cli.report_errors(lambda: cli.run("demo", [], "local", args.port), debug=False)
    if code == 0:
        print("\nThe pipeline ran end to end on the local target.")
        print('Query the fact table:  .venv/bin/flightpipe sql "SELECT * FROM airlines.daily_flights_fact LIMIT 10"')
        print("Stop the local stack:  .venv/bin/flightpipe local stop")
    return code


if __name__ == "__main__":
    sys.exit(main())
