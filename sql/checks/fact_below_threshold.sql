-- Every fact respects the threshold its load used (dep_delay >= min_dep_delay; cancelled flights, with
-- no departure delay, are never facts).
SELECT f.flight_date, f.load_id, f.source_line, f.dep_delay, l.min_dep_delay
FROM airlines.daily_flights_fact f
JOIN airlines.load_ledger l ON l.load_id = f.load_id
WHERE f.dep_delay IS NULL
   OR l.min_dep_delay IS NULL
   OR f.dep_delay < l.min_dep_delay
ORDER BY f.flight_date, f.source_line;
