-- No claim stays RUNNING longer than the job may run (:max_running_minutes, the Glue job's timeout):
-- such a row belongs to a run that died; the next run for that object takes it over.
SELECT load_id, flight_date, source_key, job_run_id, started_at
FROM airlines.load_ledger
WHERE status = 'RUNNING'
  AND started_at < DATEADD(minute, -CAST(:max_running_minutes AS INTEGER), GETDATE())
ORDER BY started_at;
