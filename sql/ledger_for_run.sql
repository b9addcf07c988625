-- What one job run did, a row per object version it claimed.
SELECT
    load_id, flight_date, source_key, source_version, status,
    rows_read, rows_loaded, rows_rejected, rows_filtered, rejects_location, error
FROM airlines.load_ledger
WHERE job_run_id = :job_run_id
ORDER BY flight_date, started_at;
