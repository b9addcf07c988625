"""The `local` target: AWS on 127.0.0.1 — moto, pinned, extended so that the whole chain really executes.

One module per service the stock moto server does not make real (see each module's docstring), each declaring
its changes to moto in `patches()`; `patches.py` applies them for the first stack of a process and reverts them
after the last; `server.py` starts a stack on 127.0.0.1; `session.py` runs a stack inside a process;
`pytest_plugin.py` gives tests and nbval a stack; `peer_check` runs moto's own tests against the extensions.
"""

# The moto release every extension is written against (pyproject.toml pins the same; a stack refuses another).
MOTO_VERSION = "5.2.5"
