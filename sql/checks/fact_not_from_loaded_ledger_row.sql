-- Every fact comes from the day's LOADED ledger row (not from a superseded, failed or unknown load).
SELECT f.flight_date, f.load_id, COUNT(*) AS facts, MAX(l.status) AS ledger_status
FROM airlines.daily_flights_fact f
LEFT JOIN airlines.load_ledger l ON l.load_id = f.load_id
WHERE l.load_id IS NULL
   OR l.status <> 'LOADED'
   OR l.flight_date <> f.flight_date
GROUP BY f.flight_date, f.load_id
ORDER BY f.flight_date;
