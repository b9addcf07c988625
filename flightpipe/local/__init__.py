"""The `local` target: moto, pinned, extended so that the whole chain really executes.

One module per service the stock moto server does not make real (see each module's docstring);
`server.py` installs them all and serves on 127.0.0.1.
"""
