-- Close a RUNNING ledger row without loading it: FAILED (with the error and whether a later run may retry
-- the same version) or SKIPPED. Only a row still RUNNING changes, so a late writer cannot undo a result.
UPDATE airlines.load_ledger
SET status = :status,
    retryable = CAST(:retryable AS BOOLEAN),
    error = :error,
    finished_at = GETDATE()
WHERE load_id = :load_id
  AND status = 'RUNNING';
