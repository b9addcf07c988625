-- A source record lands at most once: (flight_date, load_id, source_line) is unique in the fact table.
SELECT flight_date, load_id, source_line, COUNT(*) AS copies
FROM airlines.daily_flights_fact
GROUP BY flight_date, load_id, source_line
HAVING COUNT(*) > 1
ORDER BY flight_date, source_line;
