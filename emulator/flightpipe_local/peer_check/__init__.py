"""moto's own test suites as a peer check of the extensions.

    python -m flightpipe_local.peer_check [--service glue ...] [--keep-going]

Gets the sdist of the pinned moto from PyPI (`pip download`, cached under ~/.cache/flightpipe-local/), runs its
tests for the services the extensions change twice — plain moto, then with the extensions active (`plugin.py`
starts a local stack for the whole run, so moto's in-process `mock_aws` tests meet the patched moto) — and prints,
per service, how many passed each way and every test whose outcome differs. A test that fails only with the
extensions is run once more, alone (some of moto's tests race real executions against fixed sleeps). Exits 1 when
a test that passes on plain moto fails with the extensions (twice) and is not in `exceptions.py` (the documented
cases where AWS itself behaves as the emulator does).
"""
