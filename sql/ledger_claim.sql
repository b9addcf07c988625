-- Claim one object version for this job run: insert a RUNNING ledger row unless the version is already
-- loaded, being loaded, superseded, skipped or failed for good. Only a FAILED row marked retryable
-- (a crash, a lost connection) lets the same version be claimed again.
-- Two runs racing can both insert; ledger_claims_for_object.sql then elects the owner.
INSERT INTO airlines.load_ledger (
    load_id, flight_date, source_bucket, source_key, source_version, source_last_modified,
    status, min_dep_delay, job_name, job_run_id, started_at
)
SELECT
    :load_id, CAST(:flight_date AS DATE), :bucket, :key, :version, CAST(:last_modified AS TIMESTAMP),
    'RUNNING', CAST(:min_dep_delay AS INTEGER), :job_name, :job_run_id, GETDATE()
WHERE NOT EXISTS (
    SELECT 1
    FROM airlines.load_ledger
    WHERE source_bucket = :bucket
      AND source_key = :key
      AND source_version = :version
      AND NOT (status = 'FAILED' AND retryable)
);
