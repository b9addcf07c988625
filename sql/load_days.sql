-- Load the days claimed by one job run, as ONE BatchExecuteStatement: one transaction, all or nothing.
-- The job stages two sets of Parquet files and fills the placeholders {flights_path}, {loads_path} and
-- {role_arn} (validated S3 paths and ARN; COPY takes no bind parameters). Every other value travels as
-- data: load ids, counts and rejects location in the loads files, flight dates and the threshold in the
-- ledger rows the claim wrote. No REGION: Redshift refuses it for Parquet ("COPY from columnar data
-- formats", usage notes); the staging bucket is in the cluster's Region.
LOCK airlines.load_ledger;
LOCK airlines.daily_flights_fact;

-- One row per claimed object version: what the job read, rejected and filtered out of it.
CREATE TEMP TABLE loads_stage (
    load_id VARCHAR(64),
    rows_read BIGINT,
    rows_rejected BIGINT,
    rows_filtered BIGINT,
    rejects_location VARCHAR(1024)
);
COPY loads_stage FROM '{loads_path}' IAM_ROLE '{role_arn}' FORMAT AS PARQUET;

-- The valid rows, airport ids still unresolved; same column order as the Parquet files.
CREATE TEMP TABLE flights_stage (
    flight_date DATE,
    load_id VARCHAR(64),
    source_line INTEGER,
    carrier VARCHAR(10),
    origin_airport_id BIGINT,
    dest_airport_id BIGINT,
    dep_delay BIGINT,
    arr_delay BIGINT
);
COPY flights_stage FROM '{flights_path}' IAM_ROLE '{role_arn}' FORMAT AS PARQUET;

-- The loads that go ahead: still RUNNING (nobody took the claim over) and not older than a version of
-- the same day that is already loaded (a late run never puts an old file back over a newer one). S3's
-- LastModified has one-second resolution: on a tie, the version claimed later is the newer one (a run
-- claims the version current when it looked), as in sql/checks/ledger_loaded_not_latest.sql.
CREATE TEMP TABLE loads_applied (
    load_id VARCHAR(64),
    flight_date DATE,
    min_dep_delay INTEGER,
    rows_read BIGINT,
    rows_rejected BIGINT,
    rows_filtered BIGINT,
    rejects_location VARCHAR(1024)
);
INSERT INTO loads_applied
SELECT s.load_id, l.flight_date, l.min_dep_delay, s.rows_read, s.rows_rejected, s.rows_filtered, s.rejects_location
FROM loads_stage s
JOIN airlines.load_ledger l ON l.load_id = s.load_id
WHERE l.status = 'RUNNING'
  AND NOT EXISTS (
      SELECT 1
      FROM airlines.load_ledger newer
      WHERE newer.flight_date = l.flight_date
        AND newer.status = 'LOADED'
        AND (newer.source_last_modified > l.source_last_modified
             OR (newer.source_last_modified = l.source_last_modified AND newer.started_at > l.started_at))
  );

-- Replace the days: delete them, insert the staged rows that pass the threshold, resolving both airports.
DELETE FROM airlines.daily_flights_fact
USING loads_applied a
WHERE daily_flights_fact.flight_date = a.flight_date;

INSERT INTO airlines.daily_flights_fact (
    carrier, dep_airport, arr_airport, dep_city, arr_city, dep_state, arr_state, dep_delay, arr_delay,
    flight_date, load_id, source_line
)
SELECT
    f.carrier, dep.name, arr.name, dep.city, arr.city, dep.state, arr.state, f.dep_delay, f.arr_delay,
    a.flight_date, f.load_id, f.source_line
FROM flights_stage f
JOIN loads_applied a ON a.load_id = f.load_id
JOIN airlines.airports_dim dep ON dep.airport_id = f.origin_airport_id
JOIN airlines.airports_dim arr ON arr.airport_id = f.dest_airport_id
WHERE f.dep_delay >= a.min_dep_delay;

-- Count what landed, per load, from the table itself (so the reconciliation check means something).
CREATE TEMP TABLE loads_counted (
    load_id VARCHAR(64),
    rows_loaded BIGINT
);
INSERT INTO loads_counted
SELECT a.load_id, COUNT(f.load_id)
FROM loads_applied a
LEFT JOIN airlines.daily_flights_fact f ON f.load_id = a.load_id
GROUP BY a.load_id;

-- The previous LOADED version of each reloaded day is now superseded.
UPDATE airlines.load_ledger
SET status = 'SUPERSEDED'
FROM loads_applied a
WHERE load_ledger.flight_date = a.flight_date
  AND load_ledger.status = 'LOADED'
  AND load_ledger.load_id <> a.load_id;

UPDATE airlines.load_ledger
SET status = 'LOADED',
    rows_read = a.rows_read,
    rows_loaded = c.rows_loaded,
    rows_rejected = a.rows_rejected,
    rows_filtered = a.rows_filtered,
    rejects_location = a.rejects_location,
    error = NULL,
    finished_at = GETDATE()
FROM loads_applied a, loads_counted c
WHERE load_ledger.load_id = a.load_id
  AND c.load_id = a.load_id;

-- Claims of this run that did not go ahead: an older version than the one already loaded.
UPDATE airlines.load_ledger
SET status = 'SKIPPED',
    rows_read = s.rows_read,
    rows_rejected = s.rows_rejected,
    rows_filtered = s.rows_filtered,
    rejects_location = s.rejects_location,
    error = 'not loaded: a newer version of this day is already loaded',
    finished_at = GETDATE()
FROM loads_stage s
WHERE load_ledger.load_id = s.load_id
  AND load_ledger.status = 'RUNNING';
