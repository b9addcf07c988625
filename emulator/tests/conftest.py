"""The emulator's tests: one in-process local stack for the session (fixtures `local_stack`, `aws`)."""

pytest_plugins = ["flightpipe_local.pytest_plugin"]
