-- Every data line of the file is accounted for: loaded, rejected (with a reason, in rejects_location) or
-- filtered (valid but below the threshold, or a blank line). rows_read is the file's own line count (its
-- physical lines minus the header, counted on the raw bytes), not the CSV reader's record count, so a
-- reader that swallowed lines cannot reconcile. rows_loaded is counted from the fact table at load time.
SELECT load_id, flight_date, source_key, rows_read, rows_loaded, rows_rejected, rows_filtered
FROM airlines.load_ledger
WHERE status = 'LOADED'
  AND (rows_read IS NULL OR rows_loaded IS NULL OR rows_rejected IS NULL OR rows_filtered IS NULL
       OR rows_read <> rows_loaded + rows_rejected + rows_filtered)
ORDER BY flight_date;
