-- The warehouse schema: the airports dimension, the daily flights fact and the load ledger.
-- Idempotent: safe to run on every provisioning.
CREATE SCHEMA IF NOT EXISTS airlines;

-- Airports, exactly as the dimension file in S3: header airport_id,city,state,name (US DOT/BTS ids).
-- DISTSTYLE ALL: a small table copied to every node, so both joins of the fact load stay node-local.
CREATE TABLE IF NOT EXISTS airlines.airports_dim (
    airport_id BIGINT,
    city VARCHAR(100),
    state VARCHAR(100),
    name VARCHAR(200)
)
DISTSTYLE ALL;

-- One row per departure delayed by at least the threshold, with both airports resolved.
-- The first nine columns are the reference table's; flight_date, load_id and source_line say where
-- each row came from: the ledger row that loaded it and the record number in that source file.
CREATE TABLE IF NOT EXISTS airlines.daily_flights_fact (
    carrier VARCHAR(10),
    dep_airport VARCHAR(200),
    arr_airport VARCHAR(200),
    dep_city VARCHAR(100),
    arr_city VARCHAR(100),
    dep_state VARCHAR(100),
    arr_state VARCHAR(100),
    dep_delay BIGINT,
    arr_delay BIGINT,
    flight_date DATE NOT NULL,
    load_id VARCHAR(64) NOT NULL,
    source_line INTEGER NOT NULL
)
DISTSTYLE EVEN
SORTKEY (flight_date);

-- The load ledger: one row per attempt to load one version of one day's file. It is the job's bookmark
-- (which object versions are loaded or being loaded) and the audit trail (what happened, with counts).
--   status: RUNNING (claimed by job_run_id), LOADED (its rows are the day's facts), SUPERSEDED (a newer
--           version of the day replaced it after its load, or was current when a run looked: not loaded), FAILED (error says why; retryable = a later
--           run may try the same version again), SKIPPED (nothing to do: lost a claim race, or an older
--           version than the one already loaded).
--   source_version: the S3 VersionId, or 'etag:' + ETag when the bucket is not versioned.
--   rows_read = rows_loaded + rows_rejected + rows_filtered for a LOADED row; rows_read is the file's
--   data lines (physical lines minus the header); rejected rows are in rejects_location with their
--   reason; filtered rows are valid but below min_dep_delay, or blank lines.
CREATE TABLE IF NOT EXISTS airlines.load_ledger (
    load_id VARCHAR(64) NOT NULL,
    flight_date DATE NOT NULL,
    source_bucket VARCHAR(63) NOT NULL,
    source_key VARCHAR(1024) NOT NULL,
    source_version VARCHAR(1024) NOT NULL,
    source_last_modified TIMESTAMP,
    status VARCHAR(16) NOT NULL,
    retryable BOOLEAN,
    min_dep_delay INTEGER,
    rows_read BIGINT,
    rows_loaded BIGINT,
    rows_rejected BIGINT,
    rows_filtered BIGINT,
    rejects_location VARCHAR(1024),
    error VARCHAR(4096),
    job_name VARCHAR(255),
    job_run_id VARCHAR(255),
    started_at TIMESTAMP,
    finished_at TIMESTAMP
)
DISTSTYLE ALL
SORTKEY (flight_date);
