"""Local stacks for the tests (fixtures `local_stack`, `aws`) and for `pytest --nbval notebooks/` (one fresh stack
for the notebooks, run in order)."""

pytest_plugins = ["flightpipe_local.pytest_plugin"]
