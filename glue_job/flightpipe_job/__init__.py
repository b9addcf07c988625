"""The daily flights Glue job's library (Python 3.9, Glue's analytics library set only)."""
