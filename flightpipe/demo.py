"""`make run`: the main job end-to-end on the local target.

Starts the local stack in the background (or reuses the running one), runs the `demo` runbook — provision, ingest
the shipped sample days through the real event chain, validate and chart — and prints where the report is.
The stack keeps running afterwards so you can look around: `flightpipe sql "SELECT ..."`, then
`flightpipe local stop`.
"""

from __future__ import annotations

import sys

from flightpipe import cli, config
from flightpipe.runbook import RunbookFailed, run_runbook


def main() -> int:
    if config.running_local_endpoint() is None or cli.local_status() != 0:
        if cli.local_start(config.DEFAULT_LOCAL_PORT) != 0:
            return 1
    try:
        report = run_runbook("demo", {"target": "local"})
    except RunbookFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"\nThe pipeline ran end to end on the local target.\nReport: {report}")
    print('Query the fact table:  .venv/bin/flightpipe sql "SELECT * FROM airlines.daily_flights_fact LIMIT 10"')
    print("Stop the local stack:  .venv/bin/flightpipe local stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
