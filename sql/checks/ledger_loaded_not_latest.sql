-- The LOADED version of a day is the latest version the pipeline has seen for it. A row here means a
-- newer upload was not loaded (its status and error say why: usually a FAILED bad file to fix).
-- S3's LastModified has one-second resolution: on a tie, the version claimed later is the newer one.
SELECT l.flight_date, l.source_key, l.source_version AS loaded_version,
       n.source_version AS newer_version, n.status AS newer_status, n.error AS newer_error
FROM airlines.load_ledger l
JOIN airlines.load_ledger n
  ON n.flight_date = l.flight_date
 AND n.source_version <> l.source_version
 AND (n.source_last_modified > l.source_last_modified
      OR (n.source_last_modified = l.source_last_modified AND n.started_at > l.started_at))
 AND n.status IN ('FAILED', 'RUNNING')
WHERE l.status = 'LOADED'
ORDER BY l.flight_date;
