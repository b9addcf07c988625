"""`pytest --nbval notebooks/` runs the notebooks in order against one fresh local stack."""

pytest_plugins = ["flightpipe.local.nbval_plugin"]
