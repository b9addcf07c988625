-- Claim every candidate object version of one job run at once, as ONE BatchExecuteStatement (one
-- transaction): a RUNNING ledger row for each version the ledger has not settled (loaded, being loaded,
-- superseded, skipped or failed for good; only a FAILED row marked retryable lets a version be claimed
-- again). Older versions of a candidate's key that no run has recorded come with status SUPERSEDED and
-- their reason: they get their settled row in the same transaction, so every version seen has a row.
-- The job stages the candidates as one Parquet file and fills {claims_path} and {role_arn}
-- (validated; BatchExecuteStatement takes no bind parameters, so every value travels as data).
-- LOCK serialises concurrent claims: without it two runs inserting at once fail one of them with
-- Redshift's ERROR 1023 (serializable isolation violation; doc "LOCK").
CREATE TEMP TABLE claims_stage (
    load_id VARCHAR(64),
    flight_date DATE,
    source_bucket VARCHAR(63),
    source_key VARCHAR(1024),
    source_version VARCHAR(1024),
    source_last_modified TIMESTAMP,
    min_dep_delay INTEGER,
    job_name VARCHAR(255),
    job_run_id VARCHAR(255),
    status VARCHAR(16),
    error VARCHAR(4096)
);
COPY claims_stage FROM '{claims_path}' IAM_ROLE '{role_arn}' FORMAT AS PARQUET;

LOCK airlines.load_ledger;

INSERT INTO airlines.load_ledger (
    load_id, flight_date, source_bucket, source_key, source_version, source_last_modified,
    status, retryable, error, min_dep_delay, job_name, job_run_id, started_at, finished_at
)
SELECT
    c.load_id, c.flight_date, c.source_bucket, c.source_key, c.source_version, c.source_last_modified,
    c.status, CASE WHEN c.status = 'RUNNING' THEN NULL ELSE FALSE END, c.error,
    c.min_dep_delay, c.job_name, c.job_run_id, GETDATE(), CASE WHEN c.status = 'RUNNING' THEN NULL ELSE GETDATE() END
FROM claims_stage c
WHERE NOT EXISTS (
    SELECT 1
    FROM airlines.load_ledger l
    WHERE l.source_bucket = c.source_bucket
      AND l.source_key = c.source_key
      AND l.source_version = c.source_version
      AND NOT (l.status = 'FAILED' AND l.retryable)
);

-- The ledger rows that settle each version claimed RUNNING, oldest first (the job reads this sub-statement's
-- result). The owner of a version is its LOADED row, else the earliest RUNNING row (started_at, then
-- load_id: every run elects the same one).
SELECT
    l.source_key, l.source_version, l.load_id, l.status, l.job_name, l.job_run_id, l.error,
    DATEDIFF(minute, l.started_at, GETDATE()) AS age_minutes
FROM airlines.load_ledger l
JOIN claims_stage c
  ON l.source_bucket = c.source_bucket
 AND l.source_key = c.source_key
 AND l.source_version = c.source_version
WHERE NOT (l.status = 'FAILED' AND l.retryable)
  AND c.status = 'RUNNING'
ORDER BY l.source_key, l.started_at, l.load_id;
