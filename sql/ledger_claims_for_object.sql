-- The ledger rows that settle one object version, oldest first. The owner of a version is its LOADED
-- row, else the earliest RUNNING row (started_at, then load_id: every run elects the same one).
SELECT
    load_id, status, job_name, job_run_id, error,
    DATEDIFF(minute, started_at, GETDATE()) AS age_minutes
FROM airlines.load_ledger
WHERE source_bucket = :bucket
  AND source_key = :key
  AND source_version = :version
  AND NOT (status = 'FAILED' AND retryable)
ORDER BY started_at, load_id;
