"""Benchmarks of the local chain and of the Glue job's load: `python -m bench` prints the table.

Every figure is measured on this machine in this run, against a stack provisioned by the real `provision`
runbook; see docs/benchmarks.md for what each row means and the targets.
"""
