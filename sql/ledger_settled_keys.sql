-- The daily files of a bucket whose newest ledger row is settled: loaded, superseded, skipped, or failed
-- for good. Discovery considers only the other catalogued days (new ones, retryable failures, claims that
-- may be abandoned) plus the object the run was started for, so a daily run does not look at every old day.
SELECT source_key
FROM (
    SELECT
        source_key, status, retryable,
        -- a version recorded as SUPERSEDED in a claim is never newer than the version claimed with it
        ROW_NUMBER() OVER (PARTITION BY source_key ORDER BY started_at DESC,
                           CASE WHEN status = 'SUPERSEDED' THEN 0 ELSE 1 END DESC, load_id DESC) AS newest
    FROM airlines.load_ledger
    WHERE source_bucket = :bucket
) ledger
WHERE newest = 1
  AND (status IN ('LOADED', 'SUPERSEDED', 'SKIPPED') OR (status = 'FAILED' AND NOT retryable));
