-- Every row read is accounted for: loaded, rejected (with a reason, in rejects_location) or filtered
-- (valid but below the threshold). rows_loaded is counted from the fact table at load time.
SELECT load_id, flight_date, source_key, rows_read, rows_loaded, rows_rejected, rows_filtered
FROM airlines.load_ledger
WHERE status = 'LOADED'
  AND (rows_read IS NULL OR rows_loaded IS NULL OR rows_rejected IS NULL OR rows_filtered IS NULL
       OR rows_read <> rows_loaded + rows_rejected + rows_filtered)
ORDER BY flight_date;
