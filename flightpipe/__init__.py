"""flightpipe: ingest daily flight data into a Redshift fact table, on AWS or on a local emulator."""

__version__ = "0.1.0"
