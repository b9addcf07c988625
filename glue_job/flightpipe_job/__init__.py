"""The daily flights Glue job's library (Python 3.9, Glue's analytics library set only): new `flights.csv` files in
S3 → Redshift.

Each day's file lands at `s3://<raw_bucket>/<raw_prefix>date=YYYY-MM-DD/flights.csv` with the header
`Carrier,OriginAirportID,DestAirportID,DepDelay,ArrDelay` (any column order). The job:

1. finds the work: the `--object_key` it was started for, plus the days the Glue crawler catalogued
   (`glue.get_partitions`) that the ledger has not settled (one query), and each such day's *current* object
   version (`head_object`: VersionId, or the ETag when the bucket is not versioned). Days already loaded cost
   nothing: a daily run makes the same few Data API statements after a year as after a day;
2. claims all those versions in ONE BatchExecuteStatement (the candidates staged as a Parquet file, then
   LOCK and INSERT … WHERE NOT EXISTS; the ledger `airlines.load_ledger` is the job's bookmark: a second or
   concurrent run finds nothing to do twice). A RUNNING claim whose Glue job run has ended is abandoned:
   marked FAILED and taken over;
3. streams each claimed version (at its VersionId, one GET) in bounded chunks with pyarrow, validates every
   row (each check once per distinct text of a field, through pyarrow's dictionary encoding) and
   writes the bad ones with a reason to `s3://<raw_bucket>/<rejects_prefix>date=…/<run_id>.csv`; a file
   that is unusable as a whole (empty, header only, wrong columns, not UTF-8 CSV, a quote left open on a
   line with `--multiline_quotes refuse`, more rejected rows than `--max_reject_share` of its data lines)
   fails with a message naming the object, and 0 fact rows change for that day. The ledger's rows_read is
   the file's own line count (physical lines minus the header), so every line is loaded, rejected or
   filtered; a line longer than the read block is rejected with its number;
4. stages the valid rows at or above the threshold as Parquet (the rows of many days share a file) under
   `s3://<raw_bucket>/<staging_prefix><run_id>/` and loads all
   claimed days in ONE BatchExecuteStatement (one transaction): COPY into temp tables, delete the days,
   insert them joined to `airlines.airports_dim` on both airports with `dep_delay >= min_dep_delay`, and
   mark the ledger rows LOADED with their counts. A crash anywhere leaves the previous state.

Threshold: the reference course code kept `dep_delay > 60` while its README said "60 minutes or more";
this job keeps `dep_delay >= --min_dep_delay` (default 60), as the README describes.

The run's identity `--run_id` (the ledger's job_run_id, the staging folder, the rejects file name) is given by
the state machine (its execution name): Glue passes a Python shell job no JOB_RUN_ID. Started by hand, a run
calls itself `manual_<uuid>`.

Raw files are never modified or deleted; staging files are deleted after each run.
The SQL is the project's `sql/` folder, read at run time from the `flightpipe_job` wheel that the job definition
passes with `--extra-py-files`.

Modules, in the order a run uses them: settings (arguments), data_api (the Redshift Data API), sources (finding
the work), ledger (claiming), reading and validation (one file), staging (one day), loading (the transaction),
run (`main`, all of the above); sql (the SQL files), errors, log.
"""
